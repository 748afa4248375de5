import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import { requestDrains, type JobPayloads } from '../queues/queues.ts';
import { recomputeCustomers, type RecomputeResult } from '../services/recompute.service.ts';
import { finishDirty, takeDirty } from '../queues/recompute.dirty.ts';
import type { LimitFunction } from 'p-limit';

/** How long one drain job keeps taking batches before it hands over to a follow-up job. */
const DRAIN_SLICE_MS = 2_000;

/** Longest pause before one batch while ingest jobs wait. */
const MAX_INGEST_PAUSE_MS = 250;

/**
 * The most a drain job pauses for ingest in all: under sustained ingest the queue never empties,
 * and without a budget recomputes would wait for as long as the load lasts.
 */
const INGEST_PAUSE_BUDGET_MS = DRAIN_SLICE_MS / 4;

/**
 * Storing events comes first in a process that does both: while ingest jobs wait, a drain pauses before each batch (10 ms per
 * waiting job, at most MAX_INGEST_PAUSE_MS and what is left of its budget). Recomputes lose nothing
 * by waiting: the customers stay marked, and the longer they wait the more of their events one
 * recompute covers. Returns the milliseconds paused.
 */
async function yieldToIngest(deps: Deps, budgetMs: number): Promise<number> {
  if (budgetMs <= 0) return 0;
  const waiting = await deps.queues.ingest.getWaitingCount();
  const pause = Math.min(MAX_INGEST_PAUSE_MS, budgetMs, waiting * 10);
  if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause));
  return pause;
}

/** Customers recomputed per transaction by a drain. */
export const DRAIN_BATCH = 250;

/**
 * Drains one shard: takes the oldest waiting customers, recomputes them in one transaction, then
 * removes those nobody asked for again meanwhile, until the shard is empty or its time slice ends.
 * Each batch waits for one of the process's `batches` slots (RECOMPUTE_CONCURRENCY). A process that
 * also stores events (`yieldToIngest`) lets waiting ingest jobs go first; one that does not has no
 * event loop to share with them and never pauses.
 * A drain killed between the commit and the removal leaves its customers waiting, and the retried
 * job recomputes them again, which adds no history or webhook rows (those follow real changes only).
 */
export async function processRecompute(
  deps: Deps,
  job: Job<JobPayloads['recompute']>,
  batches: LimitFunction,
  options: { yieldToIngest: boolean },
): Promise<RecomputeResult> {
  const { shard } = job.data;
  const prefix = deps.config.QUEUE_PREFIX;
  const total: RecomputeResult = { customers: 0, written: 0, changed: 0, history: 0, messages: 0 };
  const until = Date.now() + DRAIN_SLICE_MS;
  let paused = 0;
  for (;;) {
    if (Date.now() > until) {
      // Hand over to a fresh drain job instead of running forever under load: a graceful stop then
      // waits for one batch, not for the shard to empty. The follow-up is added before this job
      // completes, so a crash in between leaves this job to be retried.
      await requestDrains(deps.queues.recompute, [shard]);
      return total;
    }
    if (options.yieldToIngest) paused += await yieldToIngest(deps, INGEST_PAUSE_BUDGET_MS - paused);
    const result = await batches(async () => {
      const batch = await takeDirty(deps.redis, prefix, shard, DRAIN_BATCH);
      if (batch.ids.length === 0) return undefined;
      const recomputed = await recomputeCustomers(deps, batch.ids);
      await finishDirty(deps.redis, prefix, shard, batch);
      return recomputed;
    });
    if (!result) return total;
    total.customers += result.customers;
    total.written += result.written;
    total.changed += result.changed;
    total.history += result.history;
    total.messages += result.messages;
  }
}
