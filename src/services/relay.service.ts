import { sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';

const FAN_OUT_BATCH = 500;
const CLAIM_BATCH = 200;
/** At most this many deliveries in flight per endpoint, so one slow receiver cannot starve the others. */
export const ENDPOINT_CONCURRENCY = 5;

/**
 * One relay pass: (1) fans new outbox messages out to the endpoints subscribed to their type,
 * (2) claims due deliveries and enqueues one job each. Every step is idempotent, so a crash at any
 * point loses nothing; at worst a delivery is attempted twice with the same `webhook-id`.
 */
export async function relayOnce(deps: Deps): Promise<{ fannedOut: number; claimed: number }> {
  const now = deps.clock.now();
  const fannedOut = await fanOut(deps, now);
  // A delivery claimed by a relay that died before enqueueing is claimed again after two job-lock
  // periods; re-enqueueing one whose job does exist is harmless, as the job id is the same.
  const claimed = await claimDue(deps, now, new Date(now.getTime() + 2 * deps.config.JOB_LOCK_MS));
  if (claimed.length > 0) {
    await deps.queues.webhooks.addBulk(
      claimed.map((d) => ({ name: 'deliver', data: { deliveryId: d.id }, opts: { jobId: `${d.id}-a${d.attempts + 1}` } })),
    );
  }
  return { fannedOut, claimed: claimed.length };
}

async function fanOut(deps: Deps, now: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deps.db.transaction(async (tx) => {
      const result = await tx.execute<{ n: number }>(sql`
        with batch as (
          select id, type from webhook_messages
          where fanned_out_at is null
          order by created_at
          limit ${FAN_OUT_BATCH}
          for update skip locked
        ), inserted as (
          insert into webhook_deliveries (id, endpoint_id, message_id, next_attempt_at)
          select 'dlv_' || md5(e.id || '/' || b.id), e.id, b.id, ${now}
          from batch b join webhook_endpoints e
            on e.enabled and (b.type = any(e.events) or '*' = any(e.events))
          on conflict (endpoint_id, message_id) do nothing
        ), marked as (
          update webhook_messages m set fanned_out_at = ${now} from batch b where m.id = b.id returning 1
        )
        select count(*)::int as n from marked`);
      return result.rows[0]!.n;
    });
    total += n;
    if (n < FAN_OUT_BATCH) return total;
  }
}

async function claimDue(deps: Deps, now: Date, until: Date): Promise<{ id: string; attempts: number }[]> {
  const result = await deps.db.execute<{ id: string; attempts: number }>(sql`
    with inflight as (
      select endpoint_id, count(*) as n from webhook_deliveries
      where status = 'pending' and claimed_until > ${now}
      group by endpoint_id
    ), candidates as (
      select d.id, d.endpoint_id, d.next_attempt_at,
        row_number() over (partition by d.endpoint_id order by d.next_attempt_at, d.id) as rn
      from webhook_deliveries d
      join webhook_endpoints e on e.id = d.endpoint_id and e.enabled
      where d.status = 'pending' and d.next_attempt_at <= ${now}
        and (d.claimed_until is null or d.claimed_until <= ${now})
    ), picked as (
      select c.id from candidates c left join inflight i on i.endpoint_id = c.endpoint_id
      where c.rn <= ${ENDPOINT_CONCURRENCY} - coalesce(i.n, 0)
      order by c.next_attempt_at
      limit ${CLAIM_BATCH}
    )
    update webhook_deliveries d set claimed_until = ${until}
    from picked p
    where d.id = p.id and d.status = 'pending' and (d.claimed_until is null or d.claimed_until <= ${now})
    returning d.id, d.attempts`);
  return result.rows;
}
