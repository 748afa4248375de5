import { inArray, sql, type SQL } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { deriveCustomerState, ruleRecordOf, type DerivedState, type PreviousState } from '../domain/customer/customer-state.ts';
import { segmentChangedAt } from '../domain/customer/customer-state.changes.ts';
import { digestEvents, digestHoldsAt, unpackDigest, type CustomerDigest } from '../domain/facts/digest.ts';
import type { StoredEvent } from '../domain/events/events.types.ts';
import { reasonSince } from '../domain/lifecycle/lifecycle.at-risk.ts';
import type { LifecycleStage } from '../domain/lifecycle/lifecycle.types.ts';
import type { TierPolicy } from '../domain/policy/policy.ts';
import type { Breakpoints } from '../domain/scoring/scores.ts';
import { predictFromDigest, type FittedModel } from '../domain/model/predictions.ts';
import { orderSegments, segmentMembership, type SegmentDefinition } from '../domain/rules/segments.ts';
import { loadStoredEvents } from '../store/events.repo.ts';
import { currentFit } from '../store/model.repo.ts';
import { insertHistory, type NewHistoryRow } from '../store/history.repo.ts';
import { currentPolicy } from '../store/policies.repo.ts';
import type { DbOrTx } from '../store/db.ts';
import { customers } from '../store/schema.ts';
import { insertMessages } from '../store/webhooks.repo.ts';
import { applyMembershipChanges, listSegments, toDefinition } from '../store/segments.repo.ts';
import { latestPopulationStats, refreshPopulationStats, type PopulationStats } from '../store/stats.repo.ts';
import { messagesForChanges, segmentMessages } from '../webhooks/messages.ts';
import { enqueueRecomputes, nudgeRelay } from '../queues/queues.ts';
import { toUpdate, writeUpdates } from './recompute.write.ts';

/**
 * The columns a recompute reads back from a customer: what the previous state, the unchanged-state
 * check and segment rules need, and the digest. Not `metrics` (the largest column, rebuilt from the
 * digest anyway) nor the listing copies.
 */
const recomputeColumns = {
  id: customers.id,
  digest: customers.digest,
  stateHash: customers.stateHash,
  traits: customers.traits,
  sequence: customers.sequence,
  computedAt: customers.computedAt,
  tier: customers.tier,
  pendingTier: customers.pendingTier,
  pendingSince: customers.pendingSince,
  lifecycleStage: customers.lifecycleStage,
  atRisk: customers.atRisk,
  atRiskReasons: customers.atRiskReasons,
  nextReviewAt: customers.nextReviewAt,
  rScore: customers.rScore,
  fScore: customers.fScore,
  mScore: customers.mScore,
  valueScore: customers.valueScore,
  rfmSegment: customers.rfmSegment,
  abcClass: customers.abcClass,
};


/** Customers derived between two yields to the event loop. */
const YIELD_EVERY = 25;

/** Serializes population-statistics refreshes across processes. */
const STATS_LOCK = 0x7469_6572;

/** Statistics to score with: the latest version, or (before any refresh) computed now. */
export async function ensurePopulationStats(deps: Deps, now: Date): Promise<PopulationStats> {
  const latest = await latestPopulationStats(deps.db);
  if (latest) return latest;
  return refreshStatsLocked(deps, now);
}

export async function refreshStatsLocked(deps: Deps, now: Date): Promise<PopulationStats> {
  return deps.db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${STATS_LOCK})`);
    return refreshPopulationStats(tx, now);
  });
}

export interface RecomputeResult {
  customers: number;
  changed: number;
  history: number;
  messages: number;
}

/** What every customer of a batch is scored against, read once per batch (or once per rescore). */
export interface RecomputeContext {
  policy: TierPolicy;
  policySince: Date;
  stats: PopulationStats;
  segmentDefs: SegmentDefinition[];
  fit: FittedModel | null;
}

export async function loadRecomputeContext(deps: Deps, now: Date): Promise<RecomputeContext> {
  const [storedPolicy, stats, segmentDefs, stored] = await Promise.all([
    currentPolicy(deps.db),
    ensurePopulationStats(deps, now),
    loadSegmentOrder(deps),
    currentFit(deps.db),
  ]);
  const fit = stored?.params ? { params: stored.params, fittedAt: stored.attemptedAt } : null;
  return { policy: storedPolicy.policy, policySince: storedPolicy.createdAt, stats, segmentDefs, fit };
}

/**
 * Rebuilds customers from their digests (digestsAsOf) and writes state and history in one
 * transaction. Rows are locked in id order, so recomputes of one customer never interleave and
 * batches never deadlock; they are read (and the events counted, and where needed read) after the
 * lock, so the last recompute sees every committed event. `preloaded` lets a long run read the
 * policy, statistics and segments once.
 */
export async function recomputeCustomers(deps: Deps, customerIds: string[], preloaded?: RecomputeContext): Promise<RecomputeResult> {
  const ids = [...new Set(customerIds)].sort();
  if (ids.length === 0) return { customers: 0, changed: 0, history: 0, messages: 0 };
  const stop = deps.metrics.recomputeDuration.startTimer();
  const now = deps.clock.now();
  const context = { now, ...(preloaded ?? (await loadRecomputeContext(deps, now))) };
  const result = await deps.db.transaction(async (tx) => {
    await tx.select({ id: customers.id }).from(customers).where(inArray(customers.id, ids)).orderBy(customers.id).for('update');
    const rows = await readCustomers(tx, inArray(customers.id, ids));
    return writePlans(tx, await planRows(deps, tx, rows, context), now);
  });
  stop();
  return finish(deps, result);
}

/**
 * One batch of a rescore: the customers matching `where` (a bounded id range), read in one
 * snapshot without row locks (a rescore holds no lock while it derives), derived, and written only
 * where something changed and nothing else wrote the row since it was read. A customer some
 * recompute wrote in between is asked for again (finish), so its change is neither lost nor
 * announced twice.
 */
export async function rescoreBatch(deps: Deps, where: SQL, context: RecomputeContext): Promise<RecomputeResult> {
  const now = deps.clock.now();
  const rows = await readCustomers(deps.db, where);
  const plans = await planRows(deps, deps.db, rows, { now, ...context });
  return finish(deps, await deps.db.transaction((tx) => writePlans(tx, plans, now)));
}

/** After the commit: customers someone else wrote meanwhile are asked for again (never under row locks), the relay is nudged. */
async function finish(deps: Deps, { conflicted, ...result }: RecomputeResult & { conflicted: string[] }): Promise<RecomputeResult> {
  deps.metrics.customersRecomputed.inc(result.customers);
  if (conflicted.length > 0) await enqueueRecomputes(deps, conflicted);
  if (result.messages > 0) await nudgeRelay(deps.queues.relay);
  return result;
}

type CustomerRow = Awaited<ReturnType<typeof readCustomers>>[number];
/** The stored columns a derivation reads (recomputeColumns). */
type StoredColumns = Pick<typeof customers.$inferSelect, keyof typeof recomputeColumns>;

/** Customers with what a recompute reads of them: the recompute columns, how many events are stored, and their saved segments. */
function readCustomers(db: DbOrTx, where: SQL) {
  return db
    .select({
      ...recomputeColumns,
      // Spelled out: drizzle renders a column of the outer table unqualified, which here would be events.id.
      eventCount: sql<number>`(select count(*)::int from events e where e.customer_id = customers.id)`,
      segments: sql<string[]>`array(select m.segment_key from segment_members m where m.customer_id = customers.id)`,
    })
    .from(customers)
    .where(where)
    .orderBy(customers.id);
}

type Plan = ReturnType<typeof planCustomer>;

async function planRows(deps: Deps, db: DbOrTx, rows: CustomerRow[], context: PlanContext): Promise<Plan[]> {
  const { digests, stale } = await digestsAsOf(db, rows, context.now);
  deps.metrics.customerDerivations.inc({ source: 'digest' }, rows.length - stale);
  deps.metrics.customerDerivations.inc({ source: 'events' }, stale);
  const plans: Plan[] = [];
  for (const row of rows) {
    plans.push(planCustomer(row, digests.get(row.id)!, row.segments, context));
    // Deriving a large batch is CPU work: give the event loop back now and then, so the ingest
    // jobs sharing this process keep storing events while a batch is being derived.
    if (plans.length % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  return plans;
}

/**
 * Writes the plans whose state differs from the stored one (by fingerprint), each only if the row
 * still holds the state it was derived from, then the membership, history and outbox rows of the
 * rows written. The outbox: webhook messages commit (or roll back) with the changes they announce.
 */
async function writePlans(tx: DbOrTx, plans: Plan[], now: Date): Promise<RecomputeResult & { conflicted: string[] }> {
  const pending = plans.filter((p) => p.update.state_hash !== p.previousHash);
  const written = await writeUpdates(tx, pending.map((p) => Object.assign({}, p.update, { previous_hash: p.previousHash })));
  const done = pending.filter((p) => written.has(p.update.id));
  const history = done.flatMap((p) => p.history);
  const messages = done.flatMap((p) => p.messages);
  await applyMembershipChanges(tx, done.flatMap((p) => p.entered), done.flatMap((p) => p.exited), now);
  await insertHistory(tx, history);
  await insertMessages(tx, messages);
  return {
    customers: plans.length,
    changed: done.filter((p) => p.update.sequence !== p.previousSequence).length,
    history: history.length,
    messages: messages.length,
    conflicted: pending.filter((p) => !written.has(p.update.id)).map((p) => p.update.id),
  };
}

/**
 * Each customer's digest as of now: the stored one while it is current (taken from as many events
 * as are stored now, and no event stamped after it has come of age), else one taken from the
 * events, which are read for those customers only. So a rescore or a due review reads small
 * digests, and a recompute after new events reads the events as before.
 */
async function digestsAsOf(db: DbOrTx, rows: CustomerRow[], now: Date): Promise<{ digests: Map<string, CustomerDigest>; stale: number }> {
  const digests = new Map<string, CustomerDigest>();
  const stale: string[] = [];
  for (const row of rows) {
    // The count is checked on the packed form first: after new events no digest is unpacked.
    const stored = row.digest?.n === row.eventCount ? unpackDigest(row.digest) : null;
    if (stored && digestHoldsAt(stored, now)) digests.set(row.id, stored);
    else stale.push(row.id);
  }
  const events = groupByCustomer(await loadStoredEvents(db, stale));
  for (const id of stale) digests.set(id, digestEvents(events.get(id) ?? [], now));
  return { digests, stale: stale.length };
}

interface PlanContext extends RecomputeContext {
  now: Date;
}

type Membership = { segmentKey: string; customerId: string };

/** Everything one customer's recompute writes: its new state, history rows, outbox messages, membership changes. */
function planCustomer(row: CustomerRow, digest: CustomerDigest, currentSegments: string[], ctx: PlanContext) {
  const { now } = ctx;
  const before = [...currentSegments].sort();
  const derived = derive(row, digest, now, ctx.policy, ctx.stats, { segments: before, definitions: ctx.segmentDefs }, ctx.policySince, ctx.fit);
  const after = segmentMembership(ctx.segmentDefs, ruleRecordOf(derived, { segments: [], predictions: derived.predictions, traits: row.traits }));
  const segmentChange = { entered: after.filter((k) => !before.includes(k)), exited: before.filter((k) => !after.includes(k)) };
  const segmentsChanged = segmentChange.entered.length + segmentChange.exited.length > 0;
  const changed = derived.changes.length > 0 || segmentsChanged || materiallyDiffers(row, derived);
  const sequence = changed ? row.sequence + 1 : row.sequence;

  const history: NewHistoryRow[] = derived.changes.map((change) => ({
    customerId: row.id,
    kind: change.kind,
    before: change.before,
    after: change.after,
    reasons: change.reasons,
    changedAt: change.changed_at,
    sequence,
  }));
  const entered: Membership[] = segmentChange.entered.map((segmentKey) => ({ segmentKey, customerId: row.id }));
  const exited: Membership[] = segmentChange.exited.map((segmentKey) => ({ segmentKey, customerId: row.id }));
  const segmentsChangedAt = segmentChangedAt({ previous: previousState(row), now }, derived.changes);
  for (const { segmentKey: key, member } of [...entered.map((m) => ({ ...m, member: true })), ...exited.map((m) => ({ ...m, member: false }))]) {
    history.push({
      customerId: row.id,
      kind: 'segment',
      before: { segment: key, member: !member },
      after: { segment: key, member },
      reasons: [{ code: member ? 'entered' : 'exited', detail: `${member ? 'entered' : 'left'} segment ${key}` }],
      changedAt: segmentsChangedAt,
      sequence,
    });
  }
  return {
    update: toUpdate(row.id, derived, digest, now, sequence),
    previousHash: row.stateHash,
    previousSequence: row.sequence,
    history,
    messages: [
      ...messagesForChanges(row.id, derived, sequence, ctx.policy, after, now),
      ...segmentMessages(row.id, derived, sequence, after, segmentChange, segmentsChangedAt, now),
    ],
    entered,
    exited,
  };
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

export function previousState(row: StoredColumns): PreviousState | null {
  if (row.computedAt === null) return null;
  return {
    tier: row.tier,
    lifecycle_stage: row.lifecycleStage as LifecycleStage | null,
    at_risk: row.atRisk,
    at_risk_reasons: (row.atRiskReasons as { code: string }[]).map((r) => r.code),
    pending_tier: row.pendingTier,
    pending_since: row.pendingSince,
    next_review_at: row.nextReviewAt,
    low_p_alive_since: reasonSince(row.atRiskReasons, 'low_p_alive'),
    computed_at: row.computedAt,
  };
}

export function derive(
  row: StoredColumns,
  digest: CustomerDigest,
  now: Date,
  policy: TierPolicy,
  stats: PopulationStats,
  segments: { segments: string[]; definitions: readonly SegmentDefinition[] } = { segments: [], definitions: [] },
  policySince: Date | null = null,
  fit: FittedModel | null = null,
): DerivedState {
  // Predictions need the model in force; the P(alive) crossing becomes a review instant.
  const prediction = predictFromDigest(fit, digest, now, policy.at_risk.p_alive_below);
  return deriveCustomerState({
    digest,
    traits: row.traits,
    now,
    stats: { breakpoints: stats.breakpoints as Breakpoints | null, abc: stats.abc },
    policy,
    previous: previousState(row),
    segments: segments.segments,
    // Time-based thresholds in segment rules get review instants too.
    segmentRules: segments.definitions.map((d) => d.rule),
    inForceSince: { policy: policySince, stats: stats.computedAt },
    predictions: prediction?.predictions ?? null,
    pAliveBelowAt: prediction?.pAliveBelowAt ?? null,
    pAliveBelowSince: prediction?.pAliveBelowSince ?? null,
  });
}

async function loadSegmentOrder(deps: Deps): Promise<SegmentDefinition[]> {
  const ordered = orderSegments((await listSegments(deps.db)).map(toDefinition));
  // Saved segments are checked for cycles on write, so this only fails if the table was edited by hand.
  if (!ordered.ok) throw new Error(`saved segments are inconsistent: ${ordered.message}`);
  return ordered.order;
}

function materiallyDiffers(row: StoredColumns, d: DerivedState): boolean {
  return (
    row.rScore !== (d.scores?.r_score ?? null) ||
    row.fScore !== (d.scores?.f_score ?? null) ||
    row.mScore !== (d.scores?.m_score ?? null) ||
    row.valueScore !== (d.scores?.value_score ?? null) ||
    row.rfmSegment !== d.rfm_segment ||
    row.abcClass !== d.abc_class ||
    row.computedAt === null
  );
}

