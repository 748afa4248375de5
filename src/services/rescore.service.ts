import type { Deps } from '../deps.ts';
import type { Breakpoints } from '../domain/scoring/scores.ts';
import { countCustomers, everyCustomer, judgmentsChanged, nextCustomerIds, segmentMismatch, selectedCustomerIds, type CustomerScope } from '../store/customers.state.repo.ts';
import { currentPolicy } from '../store/policies.repo.ts';
import { findSegment, toDefinition } from '../store/segments.repo.ts';
import { customerRowEstimate, vacuumCustomerTables } from '../store/maintenance.repo.ts';
import { refreshPopulationStatsLocked } from '../store/stats.repo.ts';
import { activatesFit, fitOutcome, runModelFit } from './model-fit.service.ts';
import { loadRecomputeContext, rescoreBatch, type RecomputeDeps } from './recompute.service.ts';

const RESCORE_CHUNK = 1_000;
const RESCORE_IN_FLIGHT = 2;
/** A pass that rewrote more than this share of the customers is followed by VACUUM (ANALYZE) (README, Operations). */
const VACUUM_AFTER_SHARE = 0.1;

/** What a pass over many customers uses: a recompute's dependencies and the logger. */
export type RescoreDeps = RecomputeDeps & Pick<Deps, 'logger'>;

export type Progress = (fraction: number) => Promise<unknown>;

/**
 * Recomputes every customer in `within` in id-ordered batches (rescoreBatch: one read of the
 * customers with their digests, one guarded update of the changed ones per batch, not one job per
 * customer), with the policy, statistics and segments read once. Two batches are in flight so
 * Postgres reads or writes one while the other is derived.
 */
export async function rescoreCustomers(
  deps: RescoreDeps,
  within: CustomerScope,
  onProgress?: Progress,
  options: { few?: boolean } = {},
): Promise<{ customers: number; changed: number }> {
  const context = await loadRecomputeContext(deps, deps.clock.now());
  const { total, batches } = options.few ? await selectedBatches(deps, within) : await keysetBatches(deps, within);
  let done = 0;
  let changed = 0;
  let written = 0;
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  for await (const batch of batches) {
    const run: Promise<void> = rescoreBatch(deps, batch.read, context)
      .then(async (result) => {
        changed += result.changed;
        written += result.written;
        done += batch.size;
        await onProgress?.(Math.min(1, done / Math.max(total, 1)));
      })
      .catch((err: unknown) => void failures.push(err))
      .finally(() => inFlight.delete(run));
    inFlight.add(run);
    if (inFlight.size >= RESCORE_IN_FLIGHT) await Promise.race(inFlight);
    if (failures.length > 0) break;
  }
  await Promise.all(inFlight);
  if (failures.length > 0) throw failures[0];
  await vacuumAfterLargePass(deps, written);
  await onProgress?.(1);
  return { customers: done, changed };
}

interface PassBatch {
  size: number;
  /** the ids rescoreBatch reads */
  read: string[];
}

/**
 * The batches of a scope known to select few customers (the daily refresh): its condition is
 * evaluated once per customer, in one statement that returns the ids, and the batches read them by
 * id, so the condition is not evaluated again to count or to read.
 */
async function selectedBatches(deps: RecomputeDeps, within: CustomerScope): Promise<{ total: number; batches: AsyncIterable<PassBatch> }> {
  const ids = await selectedCustomerIds(deps.db, within);
  return {
    total: ids.length,
    batches: (async function* () {
      for (let i = 0; i < ids.length; i += RESCORE_CHUNK) {
        const chunk = ids.slice(i, i + RESCORE_CHUNK);
        yield { size: chunk.length, read: chunk };
      }
    })(),
  };
}

/**
 * Keyset pages of ids, never all of them in memory (every customer, a segment's mismatches, which
 * may be many). Each page is read by its ids, not by id range: the planner then knows the batch is
 * 1,000 rows, where a range is estimated at many more and the read would be JIT-compiled every time,
 * and the scope's condition is not evaluated again.
 */
async function keysetBatches(deps: RecomputeDeps, within: CustomerScope): Promise<{ total: number; batches: AsyncIterable<PassBatch> }> {
  return {
    total: await countCustomers(deps.db, within),
    batches: (async function* () {
      let after = '';
      for (;;) {
        const ids = await nextCustomerIds(deps.db, within, after, RESCORE_CHUNK);
        if (ids.length === 0) return;
        yield { size: ids.length, read: ids };
        if (ids.length < RESCORE_CHUNK) return;
        after = ids.at(-1)!;
      }
    })(),
  };
}

/**
 * Autovacuum may be off or slow to come round (README, Operations): after a pass that rewrote a
 * large share of the customer rows, their old versions are vacuumed and the statistics refreshed
 * at once, so the next pass finds free space on the pages (HOT updates) and the listings plan
 * with the new distribution.
 */
async function vacuumAfterLargePass(deps: RescoreDeps, written: number): Promise<void> {
  if (written === 0) return;
  const rows = await customerRowEstimate(deps.db);
  if (written <= VACUUM_AFTER_SHARE * rows && rows > 0) return;
  const started = Date.now();
  await vacuumCustomerTables(deps.db);
  deps.logger.info({ written, rows: Math.round(rows), ms: Date.now() - started }, 'customer tables vacuumed after a rescore');
}

/**
 * Refreshes the population statistics, then rescores against them. `changedOnly` (the daily
 * refresh) derives only the customers whose judgments the new statistics change, found set-based
 * in SQL (judgmentsChanged), plus those due for review: every other customer would be derived to
 * the state it has. Otherwise (a request, an import, a new policy) every customer is derived.
 * Predictions are brought up to date by the model fit's own full rescore, not here.
 */
export async function refreshAndRescore(
  deps: RescoreDeps,
  options: { onProgress?: Progress; changedOnly?: boolean } = {},
): Promise<{ stats_version: number; customers: number; changed: number }> {
  const now = deps.clock.now();
  // The daily refresh reads each customer's stored figures where they are current (not the events).
  const stats = await refreshPopulationStatsLocked(deps.db, now, { from: options.changedOnly ? 'stored' : 'events' });
  let within = everyCustomer();
  if (options.changedOnly) {
    const { policy } = await currentPolicy(deps.db);
    within = judgmentsChanged({ now, breakpoints: stats.breakpoints as Breakpoints | null, abc: stats.abc, weights: policy.weights });
  }
  // The daily refresh selects few customers (those whose judgments change, or due): their ids are taken at once.
  return { stats_version: stats.version, ...(await rescoreCustomers(deps, within, options.onProgress, { few: options.changedOnly })) };
}

/**
 * After a segment is saved: the rule compiled to SQL finds, set-based, every customer whose
 * membership disagrees with the rule; only those are recomputed, so membership, history and
 * segment.entered/exited webhooks follow the one recompute path.
 */
export async function refreshSegmentMembership(deps: RescoreDeps, key: string, onProgress?: Progress) {
  const segment = await findSegment(deps.db, key);
  if (!segment) return { customers: 0, changed: 0 };
  return rescoreCustomers(deps, segmentMismatch(key, toDefinition(segment).rule, deps.clock.now()), onProgress);
}

/** A new fit in force changes every buyer's predictions, so it is followed by a full rescore; a refused or not activated one by nothing. */
export async function fitModelAndRescore(
  deps: RescoreDeps,
  job: { as_of: string | null; activate?: boolean },
  onProgress?: Progress,
) {
  const fit = await runModelFit(deps, job.as_of ? new Date(job.as_of) : deps.clock.now(), { activate: activatesFit(job) });
  const rescored = fit.status === 'fitted' ? await rescoreCustomers(deps, everyCustomer(), onProgress) : { customers: 0, changed: 0 };
  return { fit_id: fit.id, ...fitOutcome(fit), reason: fit.reason, buyers: fit.customers, ...rescored };
}
