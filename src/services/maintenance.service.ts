import { and, asc, eq, gt, isNotNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import { customers } from '../store/schema.ts';
import { compileRule } from '../store/rules.sql.ts';
import { findSegment, toDefinition } from '../store/segments.repo.ts';
import { enqueueRecomputes, type JobPayloads, type QueueName } from '../queues/queues.ts';
import { loadRecomputeContext, refreshStatsLocked, rescoreBatch } from './recompute.service.ts';
import { activatesFit, fitOutcome, runModelFit } from './model-fit.service.ts';

const SWEEP_PAGE = 1_000;
const RESCORE_CHUNK = 1_000;
const RESCORE_IN_FLIGHT = 2;

/**
 * Enqueues a recompute for every customer whose `next_review_at` has passed. It walks the partial
 * index on `next_review_at`, so its cost follows the customers due, not the customer count.
 */
export async function sweepDueReviews(deps: Deps): Promise<{ due: number }> {
  const now = deps.clock.now();
  let due = 0;
  let after: { at: Date; id: string } | undefined;
  let oldest: Date | undefined;
  for (;;) {
    const page = await deps.db
      .select({ id: customers.id, at: customers.nextReviewAt })
      .from(customers)
      .where(
        and(
          isNotNull(customers.nextReviewAt),
          lte(customers.nextReviewAt, now),
          after ? or(gt(customers.nextReviewAt, after.at), and(eq(customers.nextReviewAt, after.at), gt(customers.id, after.id))) : undefined,
        ),
      )
      .orderBy(asc(customers.nextReviewAt), asc(customers.id))
      .limit(SWEEP_PAGE);
    if (page.length === 0) break;
    oldest ??= page[0]!.at!;
    await enqueueRecomputes(deps, page.map((p) => p.id));
    due += page.length;
    const last = page.at(-1)!;
    after = { at: last.at!, id: last.id };
    if (page.length < SWEEP_PAGE) break;
  }
  deps.metrics.sweepLag.set(oldest ? (now.getTime() - oldest.getTime()) / 1000 : 0);
  return { due };
}

type Progress = (fraction: number) => Promise<unknown>;

/**
 * Recomputes every customer matching `where` in id-ordered keyset batches (rescoreBatch: one read
 * of the customers with their digests, one guarded update of the changed ones per batch, not one
 * job per customer), with the policy, statistics and segments read once. Two batches are in flight
 * so Postgres reads or writes one while the other is derived.
 */
async function recomputeWhere(deps: Deps, where: SQL, onProgress?: Progress): Promise<{ customers: number; changed: number }> {
  const total = (await deps.db.execute<{ n: number }>(sql`select count(*)::int as n from ${customers} where ${where}`)).rows[0]!.n;
  const context = await loadRecomputeContext(deps, deps.clock.now());
  let done = 0;
  let changed = 0;
  let after = '';
  const inFlight = new Set<Promise<void>>();
  const failures: unknown[] = [];
  for (;;) {
    const chunk = await deps.db
      .select({ id: customers.id })
      .from(customers)
      .where(and(gt(customers.id, after), where))
      .orderBy(asc(customers.id))
      .limit(RESCORE_CHUNK);
    if (chunk.length === 0) break;
    const range = and(gt(customers.id, after), lte(customers.id, chunk.at(-1)!.id), where)!;
    after = chunk.at(-1)!.id;
    const run: Promise<void> = rescoreBatch(deps, range, context)
      .then(async (result) => {
        changed += result.changed;
        done += chunk.length;
        await onProgress?.(Math.min(1, done / Math.max(total, 1)));
      })
      .catch((err: unknown) => void failures.push(err))
      .finally(() => inFlight.delete(run));
    inFlight.add(run);
    if (inFlight.size >= RESCORE_IN_FLIGHT) await Promise.race(inFlight);
    if (failures.length > 0 || chunk.length < RESCORE_CHUNK) break;
  }
  await Promise.all(inFlight);
  if (failures.length > 0) throw failures[0];
  await onProgress?.(1);
  return { customers: done, changed };
}

/** Refreshes the population statistics and, when asked, rescores every customer. */
export async function refreshAndRescore(
  deps: Deps,
  options: { rescore: boolean; onProgress?: Progress },
): Promise<{ stats_version: number; customers: number; changed: number }> {
  const stats = await refreshStatsLocked(deps, deps.clock.now());
  const result = options.rescore ? await recomputeWhere(deps, sql`true`, options.onProgress) : { customers: 0, changed: 0 };
  return { stats_version: stats.version, ...result };
}

/**
 * After a segment is saved: the rule compiled to SQL finds, set-based, every customer whose
 * membership disagrees with the rule; only those are recomputed, so membership, history and
 * segment.entered/exited webhooks follow the one recompute path.
 */
export async function refreshSegmentMembership(deps: Deps, key: string, onProgress?: Progress) {
  const segment = await findSegment(deps.db, key);
  if (!segment) return { customers: 0, changed: 0 };
  const member = compileRule(toDefinition(segment).rule, {
    now: deps.clock.now(),
    segmentsSql: sql`array(select m.segment_key from segment_members m where m.customer_id = ${customers.id})`,
  });
  const isMember = sql`exists (select 1 from segment_members m where m.segment_key = ${key} and m.customer_id = ${customers.id})`;
  return recomputeWhere(deps, sql`(${member}) <> ${isMember}`, onProgress);
}

export async function processMaintenance(deps: Deps, job: Job<JobPayloads['maintenance']>): Promise<unknown> {
  const data = job.data;
  switch (data.kind) {
    case 'sweep':
      return sweepDueReviews(deps);
    case 'refresh_stats':
      return refreshAndRescore(deps, { rescore: data.rescore, onProgress: (p) => job.updateProgress(p) });
    case 'segment_membership':
      return refreshSegmentMembership(deps, data.segment, (p) => job.updateProgress(p));
    case 'fit_model':
      return fitModelAndRescore(deps, data, (p) => job.updateProgress(p));
  }
}

/** A new fit in force changes every buyer's predictions, so it is followed by a full rescore; a refused or not activated one by nothing. */
async function fitModelAndRescore(deps: Deps, data: { as_of: string | null; activate?: boolean }, onProgress: Progress) {
  const fit = await runModelFit(deps, data.as_of ? new Date(data.as_of) : deps.clock.now(), { activate: activatesFit(data) });
  const rescored = fit.status === 'fitted' ? await recomputeWhere(deps, sql`true`, onProgress) : { customers: 0, changed: 0 };
  return { fit_id: fit.id, ...fitOutcome(fit), reason: fit.reason, buyers: fit.customers, ...rescored };
}

/**
 * Job schedulers of the queues this process serves: the webhook relay's periodic pass; the
 * due-review sweep, the population statistics refresh and the model fit (each with a full rescore).
 */
export async function scheduleMaintenance(deps: Deps, served: readonly QueueName[]): Promise<void> {
  if (served.includes('relay')) {
    await deps.queues.relay.upsertJobScheduler('relay', { every: deps.config.WEBHOOK_RELAY_INTERVAL_MS }, { name: 'relay', data: {} });
  }
  if (!served.includes('maintenance')) return;
  const queue = deps.queues.maintenance;
  await queue.upsertJobScheduler('sweep', { every: deps.config.SWEEP_INTERVAL_MS }, { name: 'sweep', data: { kind: 'sweep' } });
  await queue.upsertJobScheduler(
    'refresh-stats',
    { pattern: deps.config.STATS_REFRESH_CRON, tz: 'UTC' },
    { name: 'refresh_stats', data: { kind: 'refresh_stats', rescore: true, reason: 'scheduled' } },
  );
  await queue.upsertJobScheduler(
    'fit-model',
    { pattern: deps.config.MODEL_FIT_CRON, tz: 'UTC' },
    { name: 'fit_model', data: { kind: 'fit_model', as_of: null, reason: 'scheduled' } },
  );
}
