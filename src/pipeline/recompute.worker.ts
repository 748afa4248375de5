import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import { requestDrains, type JobPayloads } from './queues.ts';
import { recomputeCustomers, type RecomputeResult } from './recompute.ts';
import { finishDirty, takeDirty } from './recompute.dirty.ts';

/** Longest pause before one batch while ingest jobs wait. */
const MAX_INGEST_PAUSE_MS = 1_000;

/**
 * Storing events comes first: while ingest jobs wait, a drain pauses before each batch (10 ms per
 * waiting job, at most a second). Recomputes lose nothing by waiting: the customers stay marked,
 * and the longer they wait the more of their events one recompute covers.
 */
async function yieldToIngest(deps: Deps): Promise<void> {
  const waiting = await deps.queues.ingest.getWaitingCount();
  if (waiting > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_INGEST_PAUSE_MS, waiting * 10)));
}

/** How long one drain job keeps taking batches before it hands over to a follow-up job. */
const DRAIN_SLICE_MS = 2_000;

/** Customers recomputed per transaction by a drain. */
export const DRAIN_BATCH = 500;

/**
 * Drains one shard: takes the oldest waiting customers, recomputes them in one transaction, then
 * removes those nobody asked for again meanwhile, until the shard is empty or its time slice ends.
 * A drain killed between the commit and the removal leaves its customers waiting, and the retried
 * job recomputes them again, which adds no history or webhook rows (those follow real changes only).
 */
export async function processRecompute(deps: Deps, job: Job<JobPayloads['recompute']>): Promise<RecomputeResult> {
  const { shard } = job.data;
  const prefix = deps.config.QUEUE_PREFIX;
  const total: RecomputeResult = { customers: 0, changed: 0, history: 0, messages: 0 };
  const until = Date.now() + DRAIN_SLICE_MS;
  for (;;) {
    if (Date.now() > until) {
      // Hand over to a fresh drain job instead of running forever under load: a graceful stop then
      // waits for one batch, not for the shard to empty. The follow-up is added before this job
      // completes, so a crash in between leaves this job to be retried.
      await requestDrains(deps.queues.recompute, [shard]);
      return total;
    }
    await yieldToIngest(deps);
    const batch = await takeDirty(deps.redis, prefix, shard, DRAIN_BATCH);
    if (batch.ids.length === 0) return total;
    const result = await recomputeCustomers(deps, batch.ids);
    await finishDirty(deps.redis, prefix, shard, batch);
    total.customers += result.customers;
    total.changed += result.changed;
    total.history += result.history;
    total.messages += result.messages;
  }
}
