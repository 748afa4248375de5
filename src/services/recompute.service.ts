import type { Deps } from '../deps.ts';
import { deriveBatch, type BatchContext, type CustomerPlan } from '../domain/customer/customer-state.batch.ts';
import { digestEvents, digestHoldsAt, packedEventCount, parseDigest, unpackDigest, type CustomerDigest } from '../domain/facts/digest.ts';
import type { StoredEvent } from '../domain/events/events.types.ts';
import type { Breakpoints } from '../domain/scoring/scores.ts';
import { orderSegments, type SegmentDefinition } from '../domain/rules/segments.ts';
import { enqueueRecomputes, nudgeRelay } from '../queues/queues.ts';
import { lockCustomers, readStoredCustomers, writeStateRows, type CustomerScope, type StoredCustomerWithDigest } from '../store/customers.state.repo.ts';
import type { DbOrTx } from '../store/db.ts';
import { loadStoredEvents } from '../store/events.repo.ts';
import { insertHistory } from '../store/history.repo.ts';
import { currentFit } from '../store/model.repo.ts';
import { currentPolicy } from '../store/policies.repo.ts';
import { applyMembershipChanges, listSegments, toDefinition } from '../store/segments.repo.ts';
import { latestPopulationStats, recomputeContextVersion, refreshPopulationStatsLocked, type PopulationStats } from '../store/stats.repo.ts';
import { insertMessages } from '../store/webhooks.repo.ts';
import { messagesForChanges, segmentMessages } from '../webhooks/messages.ts';

/** What a recompute uses: the database, the Redis and queue that take recompute requests, metrics and the clock. */
export type RecomputeDeps = Pick<Deps, 'db' | 'redis' | 'config' | 'queues' | 'metrics' | 'clock'>;

/** Customers derived between two yields to the event loop. */
const YIELD_EVERY = 25;

/** Statistics to score with: the latest version, or (before any refresh) computed now. */
export async function ensurePopulationStats(deps: Pick<Deps, 'db'>, now: Date): Promise<PopulationStats> {
  return (await latestPopulationStats(deps.db)) ?? refreshPopulationStatsLocked(deps.db, now);
}

export interface RecomputeResult {
  customers: number;
  /** rows written: their stored state differed */
  written: number;
  changed: number;
  history: number;
  messages: number;
}

/** What every customer of a batch is scored against (BatchContext without the instant), read once per batch or per pass. */
export type RecomputeContext = Omit<BatchContext, 'now'>;

export async function loadRecomputeContext(deps: Pick<Deps, 'db'>, now: Date): Promise<RecomputeContext> {
  const [storedPolicy, stats, segments, stored] = await Promise.all([
    currentPolicy(deps.db),
    ensurePopulationStats(deps, now),
    loadSegmentOrder(deps.db),
    currentFit(deps.db),
  ]);
  return {
    policy: storedPolicy.policy,
    policySince: storedPolicy.createdAt,
    stats: scoringStats(stats),
    segments,
    fit: stored?.params ? { params: stored.params, fittedAt: stored.attemptedAt } : null,
  };
}

/**
 * A recompute context kept while nothing it holds has changed: each call checks one fingerprint
 * (recomputeContextVersion) and reads the policy, statistics, segments and fit again only when it
 * differs. A drain worker calls it once per batch, so a saved policy or segment or a statistics
 * refresh counts from the next batch on, as when every batch read them.
 */
export function recomputeContextCache(deps: Pick<Deps, 'db'>): (now: Date) => Promise<RecomputeContext> {
  let cached: { version: string; context: Promise<RecomputeContext> } | undefined;
  return async (now) => {
    const version = await recomputeContextVersion(deps.db);
    if (cached?.version !== version) {
      // Keyed by the fingerprint read before loading: a change while loading is seen by the next call.
      const context = loadRecomputeContext(deps, now);
      cached = { version, context };
      context.catch(() => {
        if (cached?.context === context) cached = undefined;
      });
    }
    return cached.context;
  };
}

export const scoringStats = (stats: PopulationStats): BatchContext['stats'] => ({
  breakpoints: stats.breakpoints as Breakpoints | null,
  abc: stats.abc,
  computedAt: stats.computedAt,
});

/**
 * Rebuilds customers from their digests (digestsAsOf) and writes what changed in one transaction.
 * The rows are read without a lock, as a rescore reads them (rescoreBatch), and each write is
 * guarded by the fingerprint its state was derived from: a customer another recompute wrote
 * meanwhile is asked for again instead of overwritten, and since every event commits before its
 * customer is asked for, the recompute after the last event sees it. Only the rows to be written
 * are locked, in id order, as a run of merges locks its rows (lockProfiles), so the two never wait
 * for each other in a cycle. Locking every row first cost as much Postgres time as reading them,
 * and wrote the page of every row of a batch that writes nothing (bench/RESULTS.md, What the
 * profiles showed). `preloaded` lets a long run read the policy, statistics and segments once.
 */
export async function recomputeCustomers(deps: RecomputeDeps, customerIds: string[], preloaded?: RecomputeContext): Promise<RecomputeResult> {
  if (customerIds.length === 0) return { customers: 0, written: 0, changed: 0, history: 0, messages: 0 };
  const stop = deps.metrics.recomputeDuration.startTimer();
  const now = deps.clock.now();
  const context = { now, ...(preloaded ?? (await loadRecomputeContext(deps, now))) };
  const plans = await planBatch(deps, deps.db, await readStoredCustomers(deps.db, customerIds), context);
  const result = await deps.db.transaction(async (tx) => {
    await lockCustomers(tx, plans.filter((p) => p.differs).map((p) => p.id));
    return writePlans(tx, plans, context);
  });
  stop();
  return finish(deps, result);
}

/**
 * One batch of a pass over many customers: those in `within` (a bounded id range, or ids), read in one
 * snapshot without row locks (a rescore holds no lock while it derives), derived, and written only
 * where something changed and nothing else wrote the row since it was read. A customer some
 * recompute wrote in between is asked for again (finish), so its change is neither lost nor
 * announced twice.
 */
export async function rescoreBatch(deps: RecomputeDeps, within: CustomerScope | readonly string[], context: RecomputeContext): Promise<RecomputeResult> {
  const batchContext = { now: deps.clock.now(), ...context };
  const plans = await planBatch(deps, deps.db, await readStoredCustomers(deps.db, within), batchContext);
  return finish(deps, await deps.db.transaction((tx) => writePlans(tx, plans, batchContext)));
}

/** After the commit: customers someone else wrote meanwhile are asked for again (never under row locks), the relay is nudged. */
async function finish(deps: RecomputeDeps, { conflicted, ...result }: RecomputeResult & { conflicted: string[] }): Promise<RecomputeResult> {
  deps.metrics.customersRecomputed.inc(result.customers);
  if (conflicted.length > 0) await enqueueRecomputes(deps, conflicted);
  if (result.messages > 0) await nudgeRelay(deps.queues.relay);
  return result;
}

/** Each customer's digest as of now (digestsAsOf), then deriveBatch, a slice at a time. */
export async function planBatch(
  deps: Pick<Deps, 'metrics'>,
  db: DbOrTx,
  customers: StoredCustomerWithDigest[],
  context: BatchContext,
): Promise<CustomerPlan[]> {
  const { digests, stale } = await digestsAsOf(db, customers, context.now);
  deps.metrics.customerDerivations.inc({ source: 'digest' }, customers.length - stale);
  deps.metrics.customerDerivations.inc({ source: 'events' }, stale);
  const plans: CustomerPlan[] = [];
  for (let i = 0; i < customers.length; i += YIELD_EVERY) {
    plans.push(...deriveBatch({ customers: customers.slice(i, i + YIELD_EVERY), digests, context }));
    // Deriving a large batch is CPU work: give the event loop back now and then, so the ingest
    // jobs sharing this process keep storing events while a batch is being derived.
    if (i + YIELD_EVERY < customers.length) await new Promise((resolve) => setImmediate(resolve));
  }
  return plans;
}

/**
 * Writes the plans whose state differs from the stored one (by fingerprint), each only if the row
 * still holds the state it was derived from, then the membership, history and outbox rows of the
 * rows written. The outbox: webhook messages commit (or roll back) with the changes they announce.
 */
async function writePlans(tx: DbOrTx, plans: CustomerPlan[], context: BatchContext): Promise<RecomputeResult & { conflicted: string[] }> {
  const pending = plans.filter((p) => p.differs);
  const written = await writeStateRows(tx, pending.map((p) => Object.assign({}, p.row, { previous_hash: p.previousHash })));
  const done = pending.filter((p) => written.has(p.id));
  const history = done.flatMap((p) => p.history);
  const messages = done.flatMap((p) => [
    ...messagesForChanges(p.id, p.derived, p.row.sequence, context.policy, p.segments, context.now),
    ...segmentMessages(p.id, p.derived, p.row.sequence, p.segments, p, p.segmentsChangedAt, context.now),
  ]);
  const membership = (keys: (p: CustomerPlan) => string[]) => done.flatMap((p) => keys(p).map((segmentKey) => ({ segmentKey, customerId: p.id })));
  await applyMembershipChanges(tx, membership((p) => p.entered), membership((p) => p.exited), context.now);
  await insertHistory(tx, history);
  await insertMessages(tx, messages);
  return {
    customers: plans.length,
    written: done.length,
    changed: done.filter((p) => p.row.sequence !== p.previousSequence).length,
    history: history.length,
    messages: messages.length,
    conflicted: pending.filter((p) => !written.has(p.id)).map((p) => p.id),
  };
}

/**
 * Each customer's digest as of now: the stored one while it is current (taken from as many events
 * as are stored now, and no event stamped after it has come of age), else one taken from the
 * events, which are read for those customers only. So a rescore or a due review reads small
 * digests, and a recompute after new events reads the events as before.
 */
async function digestsAsOf(db: DbOrTx, customers: StoredCustomerWithDigest[], now: Date): Promise<{ digests: Map<string, CustomerDigest>; stale: number }> {
  const digests = new Map<string, CustomerDigest>();
  const stale: string[] = [];
  for (const customer of customers) {
    // The count is checked on the packed form first: after new events no digest is unpacked.
    const packed = parseDigest(customer.digest);
    const count = packedEventCount(packed);
    const stored = count !== null && count === customer.eventCount ? unpackDigest(packed, customer.digest!) : null;
    if (stored && digestHoldsAt(stored, now)) digests.set(customer.id, stored);
    else stale.push(customer.id);
  }
  const events = groupByCustomer(await loadStoredEvents(db, stale));
  for (const id of stale) digests.set(id, digestEvents(events.get(id) ?? [], now));
  return { digests, stale: stale.length };
}

export function groupByCustomer(events: StoredEvent[]): Map<string, StoredEvent[]> {
  const map = new Map<string, StoredEvent[]>();
  for (const e of events) {
    const list = map.get(e.customerId);
    if (list) list.push(e);
    else map.set(e.customerId, [e]);
  }
  return map;
}

async function loadSegmentOrder(db: DbOrTx): Promise<SegmentDefinition[]> {
  const ordered = orderSegments((await listSegments(db)).map(toDefinition));
  // Saved segments are checked for cycles on write, so this only fails if the table was edited by hand.
  if (!ordered.ok) throw new Error(`saved segments are inconsistent: ${ordered.message}`);
  return ordered.order;
}
