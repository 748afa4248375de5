import { inArray, sql } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { deriveCustomerState, type DerivedState, type PreviousState } from '../domain/customer-state.ts';
import type { LifecycleStage } from '../domain/lifecycle.types.ts';
import type { TierPolicy } from '../domain/policy.ts';
import type { Breakpoints } from '../domain/scores.ts';
import type { DbOrTx } from '../store/db.ts';
import { loadCustomerEvents, toStoredEvent } from '../store/events.repo.ts';
import { insertHistory, type NewHistoryRow } from '../store/history.repo.ts';
import { currentPolicy } from '../store/policies.repo.ts';
import { customers, webhookMessages } from '../store/schema.ts';
import { messagesForChanges, segmentMessages, type WebhookMessage } from '../webhooks/messages.ts';
import { ruleRecordOf } from '../domain/customer-state.ts';
import { orderSegments, segmentMembership, type SegmentDefinition } from '../domain/segments.ts';
import { applyMembershipChanges, listSegments, membershipOf, toDefinition } from '../store/segments.repo.ts';
import { nudgeRelay } from './queues.ts';
import { latestPopulationStats, refreshPopulationStats, type PopulationStats } from '../store/stats.repo.ts';
import type { StoredEvent } from '../domain/events.types.ts';

type CustomerRow = typeof customers.$inferSelect;

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

/**
 * Rebuilds customers from all their stored events and writes state and history in one transaction.
 * Rows are locked in id order, so recomputes of one customer never interleave and batches never
 * deadlock; the events are read after the lock, so the last recompute sees every committed event.
 */
export async function recomputeCustomers(deps: Deps, customerIds: string[]): Promise<RecomputeResult> {
  const ids = [...new Set(customerIds)].sort();
  if (ids.length === 0) return { customers: 0, changed: 0, history: 0, messages: 0 };
  const stop = deps.metrics.recomputeDuration.startTimer();
  const now = deps.clock.now();
  const [{ policy, createdAt: policySince }, stats, segmentDefs] = await Promise.all([
    currentPolicy(deps.db),
    ensurePopulationStats(deps, now),
    loadSegmentOrder(deps),
  ]);
  // No change can predate the policy (any kind) or the statistics (tiers, through scores) behind it.
  const notBefore = (kind: string) => Math.min(now.getTime(), Math.max(policySince.getTime(), kind === 'tier' ? stats.computedAt.getTime() : 0));
  const result = await deps.db.transaction(async (tx) => {
    const rows = await tx.select().from(customers).where(inArray(customers.id, ids)).orderBy(customers.id).for('update');
    const eventsByCustomer = groupByCustomer((await loadCustomerEvents(tx, ids)).map(toStoredEvent));
    const membership = await membershipOf(tx, ids);
    const updates: CustomerUpdate[] = [];
    const history: NewHistoryRow[] = [];
    const messages: WebhookMessage[] = [];
    const entered: { segmentKey: string; customerId: string }[] = [];
    const exited: { segmentKey: string; customerId: string }[] = [];
    for (const row of rows) {
      const before = (membership.get(row.id) ?? []).sort();
      const derived = derive(row, eventsByCustomer.get(row.id) ?? [], now, policy, stats, { segments: before, definitions: segmentDefs });
      const after = segmentMembership(segmentDefs, ruleRecordOf(derived, { segments: [], predictions: null, traits: row.traits }));
      const segmentChange = { entered: after.filter((k) => !before.includes(k)), exited: before.filter((k) => !after.includes(k)) };
      for (const change of derived.changes) {
        const bound = notBefore(change.kind);
        if (change.changed_at.getTime() < bound) change.changed_at = new Date(bound);
      }
      const segmentsChanged = segmentChange.entered.length + segmentChange.exited.length > 0;
      const changed = derived.changes.length > 0 || segmentsChanged || materiallyDiffers(row, derived);
      const sequence = changed ? row.sequence + 1 : row.sequence;
      updates.push(toUpdate(row.id, derived, now, sequence));
      for (const change of derived.changes) {
        history.push({
          customerId: row.id,
          kind: change.kind,
          before: change.before,
          after: change.after,
          reasons: change.reasons,
          changedAt: change.changed_at,
          sequence,
        });
      }
      for (const [key, member] of [...segmentChange.entered.map((k) => [k, true] as const), ...segmentChange.exited.map((k) => [k, false] as const)]) {
        history.push({
          customerId: row.id,
          kind: 'segment',
          before: { segment: key, member: !member },
          after: { segment: key, member },
          reasons: [{ code: member ? 'entered' : 'exited', detail: `${member ? 'entered' : 'left'} segment ${key}` }],
          changedAt: now,
          sequence,
        });
        (member ? entered : exited).push({ segmentKey: key, customerId: row.id });
      }
      messages.push(...messagesForChanges(row.id, derived, sequence, policy, after, now));
      messages.push(...segmentMessages(row.id, derived, sequence, after, segmentChange, now));
    }
    await applyMembershipChanges(tx, entered, exited, now);
    await writeUpdates(tx, updates);
    await insertHistory(tx, history);
    // The outbox: webhook messages commit (or roll back) with the changes they announce.
    if (messages.length > 0) await tx.insert(webhookMessages).values(messages);
    return {
      customers: rows.length,
      changed: updates.filter((u, i) => u.sequence !== rows[i]!.sequence).length,
      history: history.length,
      messages: messages.length,
    };
  });
  stop();
  deps.metrics.customersRecomputed.inc(result.customers);
  if (result.messages > 0) await nudgeRelay(deps.queues.relay);
  return result;
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

export function previousState(row: CustomerRow): PreviousState | null {
  if (row.computedAt === null) return null;
  return {
    tier: row.tier,
    lifecycle_stage: row.lifecycleStage as LifecycleStage | null,
    at_risk: row.atRisk,
    at_risk_reasons: (row.atRiskReasons as { code: string }[]).map((r) => r.code),
    pending_tier: row.pendingTier,
    pending_since: row.pendingSince,
    next_review_at: row.nextReviewAt,
    computed_at: row.computedAt,
  };
}

export function derive(
  row: CustomerRow,
  events: StoredEvent[],
  now: Date,
  policy: TierPolicy,
  stats: PopulationStats,
  segments: { segments: string[]; definitions: readonly SegmentDefinition[] } = { segments: [], definitions: [] },
): DerivedState {
  return deriveCustomerState({
    events,
    traits: row.traits,
    now,
    stats: { breakpoints: stats.breakpoints as Breakpoints | null, abc: stats.abc },
    policy,
    previous: previousState(row),
    segments: segments.segments,
    // Time-based thresholds in segment rules get review instants too.
    segmentRules: segments.definitions.map((d) => d.rule),
    predictions: null,
  });
}

async function loadSegmentOrder(deps: Deps): Promise<SegmentDefinition[]> {
  const ordered = orderSegments((await listSegments(deps.db)).map(toDefinition));
  // Saved segments are checked for cycles on write, so this only fails if the table was edited by hand.
  if (!ordered.ok) throw new Error(`saved segments are inconsistent: ${ordered.message}`);
  return ordered.order;
}

function materiallyDiffers(row: CustomerRow, d: DerivedState): boolean {
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

interface CustomerUpdate {
  id: string;
  metrics: unknown;
  order_count: number;
  net_revenue: string;
  last_order_at: string | null;
  region: string | null;
  preferred_channel: string | null;
  price_sensitivity: string | null;
  r_score: number | null;
  f_score: number | null;
  m_score: number | null;
  value_score: number | null;
  rfm_segment: string | null;
  abc_class: string | null;
  tier: string | null;
  pending_tier: string | null;
  pending_since: string | null;
  lifecycle_stage: string;
  at_risk: boolean;
  at_risk_since: string | null;
  at_risk_reasons: unknown;
  next_review_at: string | null;
  computed_at: string;
  sequence: number;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toUpdate(id: string, d: DerivedState, now: Date, sequence: number): CustomerUpdate {
  return {
    id,
    metrics: d.metrics,
    order_count: d.metrics.order_count,
    net_revenue: d.metrics.net_revenue,
    last_order_at: iso(d.metrics.last_order_at),
    region: d.metrics.region,
    preferred_channel: d.metrics.preferred_channel,
    price_sensitivity: d.metrics.price_sensitivity,
    r_score: d.scores?.r_score ?? null,
    f_score: d.scores?.f_score ?? null,
    m_score: d.scores?.m_score ?? null,
    value_score: d.scores?.value_score ?? null,
    rfm_segment: d.rfm_segment,
    abc_class: d.abc_class,
    tier: d.tier,
    pending_tier: d.pending_tier,
    pending_since: iso(d.pending_since),
    lifecycle_stage: d.lifecycle_stage,
    at_risk: d.at_risk.flagged,
    at_risk_since: iso(d.at_risk.since),
    at_risk_reasons: d.at_risk.reasons,
    next_review_at: iso(d.next_review_at),
    computed_at: now.toISOString(),
    sequence,
  };
}

/** One statement for the whole batch. */
async function writeUpdates(tx: DbOrTx, updates: CustomerUpdate[]): Promise<void> {
  if (updates.length === 0) return;
  await tx.execute(sql`
    update customers c set
      metrics = x.metrics, order_count = x.order_count, net_revenue = x.net_revenue, last_order_at = x.last_order_at,
      region = x.region, preferred_channel = x.preferred_channel, price_sensitivity = x.price_sensitivity,
      r_score = x.r_score, f_score = x.f_score, m_score = x.m_score, value_score = x.value_score,
      rfm_segment = x.rfm_segment, abc_class = x.abc_class, tier = x.tier,
      pending_tier = x.pending_tier, pending_since = x.pending_since, lifecycle_stage = x.lifecycle_stage,
      at_risk = x.at_risk, at_risk_since = x.at_risk_since, at_risk_reasons = x.at_risk_reasons,
      next_review_at = x.next_review_at, computed_at = x.computed_at, sequence = x.sequence
    from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as x(
      id text, metrics jsonb, order_count int, net_revenue numeric, last_order_at timestamptz,
      region text, preferred_channel text, price_sensitivity text,
      r_score smallint, f_score smallint, m_score smallint, value_score smallint,
      rfm_segment text, abc_class text, tier text, pending_tier text, pending_since timestamptz,
      lifecycle_stage text, at_risk boolean, at_risk_since timestamptz, at_risk_reasons jsonb,
      next_review_at timestamptz, computed_at timestamptz, sequence bigint)
    where c.id = x.id`);
}
