import { and, asc, gt, isNotNull, lte, or, eq, sql } from 'drizzle-orm';
import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import { customers } from '../store/schema.ts';
import { compileRule } from '../store/rules.sql.ts';
import { findSegment, toDefinition } from '../store/segments.repo.ts';
import { enqueueRecomputes, type JobPayloads } from './queues.ts';
import { recomputeCustomers, refreshStatsLocked } from './recompute.ts';

const SWEEP_PAGE = 1_000;
const RESCORE_CHUNK = 500;

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
    await enqueueRecomputes(deps.queues.recompute, page.map((p) => p.id));
    due += page.length;
    const last = page.at(-1)!;
    after = { at: last.at!, id: last.id };
    if (page.length < SWEEP_PAGE) break;
  }
  deps.metrics.sweepLag.set(oldest ? (now.getTime() - oldest.getTime()) / 1000 : 0);
  return { due };
}

/**
 * Refreshes the population statistics and, when asked, rescores every customer in id-ordered
 * chunks (one query and one update per chunk, not one job per customer), reporting progress.
 */
export async function refreshAndRescore(
  deps: Deps,
  options: { rescore: boolean; refreshStats?: boolean; onProgress?: (fraction: number) => Promise<unknown> },
): Promise<{ stats_version: number | null; customers: number; changed: number }> {
  const stats = options.refreshStats === false ? null : await refreshStatsLocked(deps, deps.clock.now());
  const version = stats?.version ?? null;
  if (!options.rescore) return { stats_version: version, customers: 0, changed: 0 };
  const total = (await deps.db.execute<{ n: number }>(sql`select count(*)::int as n from customers`)).rows[0]!.n;
  let done = 0;
  let changed = 0;
  let after = '';
  for (;;) {
    const chunk = await deps.db
      .select({ id: customers.id })
      .from(customers)
      .where(gt(customers.id, after))
      .orderBy(asc(customers.id))
      .limit(RESCORE_CHUNK);
    if (chunk.length === 0) break;
    const result = await recomputeCustomers(deps, chunk.map((c) => c.id));
    done += chunk.length;
    changed += result.changed;
    after = chunk.at(-1)!.id;
    await options.onProgress?.(total === 0 ? 1 : Math.min(1, done / total));
  }
  return { stats_version: version, customers: done, changed };
}

/**
 * After a segment is saved: the rule compiled to SQL finds, set-based, every customer whose
 * membership disagrees with the rule; only those are recomputed (in chunks), so membership,
 * history and segment.entered/exited webhooks follow the one recompute path.
 */
export async function refreshSegmentMembership(
  deps: Deps,
  key: string,
  onProgress?: (fraction: number) => Promise<unknown>,
): Promise<{ candidates: number; changed: number }> {
  const segment = await findSegment(deps.db, key);
  if (!segment) return { candidates: 0, changed: 0 };
  const member = compileRule(toDefinition(segment).rule, {
    now: deps.clock.now(),
    segmentsSql: sql`array(select m.segment_key from segment_members m where m.customer_id = ${customers.id})`,
  });
  const isMember = sql`exists (select 1 from segment_members m where m.segment_key = ${key} and m.customer_id = ${customers.id})`;
  const disagrees = sql`(${member}) <> ${isMember}`;
  const total = (await deps.db.execute<{ n: number }>(sql`select count(*)::int as n from ${customers} where ${disagrees}`)).rows[0]!.n;
  let candidates = 0;
  let changed = 0;
  let after = '';
  for (;;) {
    const chunk = await deps.db
      .select({ id: customers.id })
      .from(customers)
      .where(and(gt(customers.id, after), disagrees))
      .orderBy(asc(customers.id))
      .limit(RESCORE_CHUNK);
    if (chunk.length === 0) break;
    const result = await recomputeCustomers(deps, chunk.map((c) => c.id));
    candidates += chunk.length;
    changed += result.changed;
    after = chunk.at(-1)!.id;
    await onProgress?.(Math.min(1, candidates / Math.max(total, 1)));
  }
  await onProgress?.(1);
  return { candidates, changed };
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
  }
}

/** Job schedulers: the due-review sweep and the population statistics refresh (with a full rescore). */
export async function scheduleMaintenance(deps: Deps): Promise<void> {
  const queue = deps.queues.maintenance;
  await queue.upsertJobScheduler('sweep', { every: deps.config.SWEEP_INTERVAL_MS }, { name: 'sweep', data: { kind: 'sweep' } });
  await deps.queues.relay.upsertJobScheduler('relay', { every: deps.config.WEBHOOK_RELAY_INTERVAL_MS }, { name: 'relay', data: {} });
  await queue.upsertJobScheduler(
    'refresh-stats',
    { pattern: deps.config.STATS_REFRESH_CRON, tz: 'UTC' },
    { name: 'refresh_stats', data: { kind: 'refresh_stats', rescore: true, reason: 'scheduled' } },
  );
}
