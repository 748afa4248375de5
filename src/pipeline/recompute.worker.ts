import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import type { JobPayloads } from './queues.ts';
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

/** Customers recomputed per transaction by a drain. */
export const DRAIN_BATCH = 500;

/**
 * Drains one shard: takes the oldest waiting customers, recomputes them in one transaction, then
 * removes those nobody asked for again meanwhile, until the shard is empty. A drain killed between
 * the commit and the removal leaves its customers waiting, and the retried job recomputes them
 * again, which changes nothing (a recompute writes only what differs from the stored state).
 */
export async function processRecompute(deps: Deps, job: Job<JobPayloads['recompute']>): Promise<RecomputeResult> {
  const { shard } = job.data;
  const prefix = deps.config.QUEUE_PREFIX;
  const total: RecomputeResult = { customers: 0, changed: 0, history: 0, messages: 0 };
  for (;;) {
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
