import type { Deps } from '../deps.ts';
import { claimDueDeliveries, fanOutMessages } from '../store/webhooks.delivery.repo.ts';

const FAN_OUT_BATCH = 500;
const CLAIM_BATCH = 200;
/** At most this many deliveries in flight per endpoint, so one slow receiver cannot starve the others. */
export const ENDPOINT_CONCURRENCY = 5;

/**
 * One relay pass: (1) fans new outbox messages out to the endpoints subscribed to their type,
 * (2) claims due deliveries and enqueues one job each. Every step is idempotent, so a crash at any
 * point loses nothing; at worst a delivery is attempted twice with the same `webhook-id`.
 */
export async function relayOnce(deps: Pick<Deps, 'db' | 'queues' | 'config' | 'clock'>): Promise<{ fannedOut: number; claimed: number }> {
  const now = deps.clock.now();
  let fannedOut = 0;
  for (;;) {
    const n = await fanOutMessages(deps.db, now, FAN_OUT_BATCH);
    fannedOut += n;
    if (n < FAN_OUT_BATCH) break;
  }
  // A delivery claimed by a relay that died before enqueueing is claimed again after two job-lock
  // periods; re-enqueueing one whose job does exist is harmless, as the job id is the same.
  const until = new Date(now.getTime() + 2 * deps.config.JOB_LOCK_MS);
  const claimed = await claimDueDeliveries(deps.db, { now, until, perEndpoint: ENDPOINT_CONCURRENCY, limit: CLAIM_BATCH });
  if (claimed.length > 0) {
    await deps.queues.webhooks.addBulk(
      claimed.map((d) => ({ name: 'deliver', data: { deliveryId: d.id }, opts: { jobId: `${d.id}-a${d.attempts + 1}` } })),
    );
  }
  return { fannedOut, claimed: claimed.length };
}
