import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { webhookAttempts, webhookDeliveries, webhookEndpoints, webhookMessages } from './schema.ts';

/**
 * Fans up to `limit` new outbox messages out to the endpoints subscribed to their type (one
 * delivery row each) and marks them fanned out, in one transaction; returns how many messages.
 * Idempotent: a delivery exists once per (endpoint, message).
 */
export async function fanOutMessages(db: DbOrTx, now: Date, limit: number): Promise<number> {
  return db.transaction(async (tx) => {
    const result = await tx.execute<{ n: number }>(sql`
      with batch as (
        select id, type from webhook_messages
        where fanned_out_at is null
        order by created_at
        limit ${limit}
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
}

/**
 * Claims due deliveries until `until`, at most `perEndpoint` in flight per endpoint and `limit` in
 * all, oldest first; returns them with their attempts so far.
 */
export async function claimDueDeliveries(
  db: DbOrTx,
  options: { now: Date; until: Date; perEndpoint: number; limit: number },
): Promise<{ id: string; attempts: number }[]> {
  const { now, until, perEndpoint, limit } = options;
  const result = await db.execute<{ id: string; attempts: number }>(sql`
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
      where c.rn <= ${perEndpoint} - coalesce(i.n, 0)
      order by c.next_attempt_at
      limit ${limit}
    )
    update webhook_deliveries d set claimed_until = ${until}
    from picked p
    where d.id = p.id and d.status = 'pending' and (d.claimed_until is null or d.claimed_until <= ${now})
    returning d.id, d.attempts`);
  return result.rows;
}

/** A delivery with its endpoint and message, or undefined. */
export async function findDelivery(db: DbOrTx, deliveryId: string) {
  const [row] = await db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints, message: webhookMessages })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .innerJoin(webhookMessages, eq(webhookMessages.id, webhookDeliveries.messageId))
    .where(eq(webhookDeliveries.id, deliveryId));
  return row;
}

export interface AttemptRecord {
  deliveryId: string;
  endpointId: string;
  attempt: number;
  outcome: 'success' | 'failure' | 'gone';
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  error: string | null;
  /** the delivery's status after this attempt, and when to try again (pending only) */
  status: 'pending' | 'succeeded' | 'failed';
  nextAttemptAt: Date | null;
}

/**
 * Records an attempt, the delivery's new status and the endpoint's health in one transaction. A
 * failure marks when the endpoint started failing; `shouldDisable` decides (from that instant and
 * the last success) whether the endpoint is switched off.
 */
export async function recordAttempt(
  db: DbOrTx,
  a: AttemptRecord,
  now: Date,
  shouldDisable: (health: { firstFailureAt: Date | null; lastSuccessAt: Date | null }) => boolean,
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.insert(webhookAttempts).values({
      deliveryId: a.deliveryId,
      attempt: a.attempt,
      outcome: a.outcome,
      statusCode: a.statusCode,
      durationMs: a.durationMs,
      responseBody: a.responseBody,
      error: a.error,
      createdAt: now,
    });
    await tx
      .update(webhookDeliveries)
      .set({ status: a.status, attempts: a.attempt, lastAttemptAt: now, claimedUntil: null, nextAttemptAt: a.nextAttemptAt })
      .where(eq(webhookDeliveries.id, a.deliveryId));
    if (a.outcome === 'success') {
      await tx.update(webhookEndpoints).set({ lastSuccessAt: now, failingSince: null }).where(eq(webhookEndpoints.id, a.endpointId));
    } else if (a.outcome === 'gone') {
      await tx
        .update(webhookEndpoints)
        .set({ enabled: false, disabledReason: 'the receiver answered 410 Gone', updatedAt: now })
        .where(eq(webhookEndpoints.id, a.endpointId));
    } else {
      const [endpoint] = await tx
        .update(webhookEndpoints)
        .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${now})` })
        .where(eq(webhookEndpoints.id, a.endpointId))
        .returning();
      if (endpoint && shouldDisable({ firstFailureAt: endpoint.failingSince, lastSuccessAt: endpoint.lastSuccessAt })) {
        await tx
          .update(webhookEndpoints)
          .set({ enabled: false, disabledReason: 'only failures for 5 days', updatedAt: now })
          .where(eq(webhookEndpoints.id, a.endpointId));
      }
    }
  });
}
