import { deriveCustomerState, ruleRecordOf, type DerivedState, type PreviousState } from './customer-state.ts';
import { toStateRow, type CustomerStateRow } from './customer-state.row.ts';
import { segmentChangedAt } from './customer-state.changes.ts';
import type { CustomerDigest } from '../facts/digest.ts';
import { reasonSince } from '../lifecycle/lifecycle.at-risk.ts';
import type { LifecycleStage } from '../lifecycle/lifecycle.types.ts';
import { predictFromDigest, type FittedModel } from '../model/predictions.ts';
import type { TierPolicy } from '../policy/policy.ts';
import type { Rule } from '../rules/rules.ts';
import { segmentMembership, type SegmentDefinition } from '../rules/segments.ts';
import type { AbcCutoffs, Breakpoints } from '../scoring/scores.ts';

/** A customer's stored state as a recompute reads it back: what the previous state and the unchanged-state check need. */
export interface StoredCustomer {
  id: string;
  traits: Record<string, unknown>;
  stateHash: string | null;
  sequence: number;
  computedAt: Date | null;
  tier: string | null;
  pendingTier: string | null;
  pendingSince: Date | null;
  lifecycleStage: string | null;
  atRisk: boolean;
  atRiskReasons: unknown[];
  nextReviewAt: Date | null;
  rScore: number | null;
  fScore: number | null;
  mScore: number | null;
  valueScore: number | null;
  rfmSegment: string | null;
  abcClass: string | null;
  /** saved-segment keys the customer is a member of */
  segments: string[];
}

/** What every customer of a batch is derived against, read once per batch (or once per rescore). */
export interface BatchContext {
  now: Date;
  policy: TierPolicy;
  /** when the policy in force took effect (null: unknown); no change is dated before it */
  policySince: Date | null;
  stats: { breakpoints: Breakpoints | null; abc: AbcCutoffs | null; computedAt: Date | null };
  /** saved segments in evaluation order (orderSegments) */
  segments: readonly SegmentDefinition[];
  fit: FittedModel | null;
}

export interface HistoryEntry {
  customerId: string;
  kind: string;
  before: unknown;
  after: unknown;
  reasons: unknown[];
  changedAt: Date;
  sequence: number;
}

/** Everything one customer's recompute would write, and what it is derived from. */
export interface CustomerPlan {
  id: string;
  derived: DerivedState;
  row: CustomerStateRow;
  previousHash: string | null;
  previousSequence: number;
  /** the row differs from the stored one: it is written (guarded by previousHash) */
  differs: boolean;
  /** a change worth a new sequence number: a state change, a membership change or new scores */
  changed: boolean;
  history: HistoryEntry[];
  /** saved segments after the recompute, and the membership changes */
  segments: string[];
  entered: string[];
  exited: string[];
  /** when the membership changes (entered, exited) became true (segmentChangedAt) */
  segmentsChangedAt: Date;
}

/**
 * Derives a batch of customers, each from its digest as of `context.now`: the one derivation that
 * recomputes, rescores and policy previews share. Pure: the caller reads the rows and digests and
 * writes the plans.
 */
export function deriveBatch({ customers, digests, context }: {
  customers: readonly StoredCustomer[];
  digests: ReadonlyMap<string, CustomerDigest>;
  context: BatchContext;
}): CustomerPlan[] {
  return customers.map((customer) => {
    const digest = digests.get(customer.id);
    if (!digest) throw new Error(`no digest for customer ${customer.id}`);
    return planCustomer(customer, digest, context);
  });
}

/** The state a customer would have under `context` (a policy preview asks only for this). */
export function deriveState(
  customer: StoredCustomer,
  digest: CustomerDigest,
  context: BatchContext,
  segments: readonly string[] = [],
  previous: PreviousState | null = previousState(customer),
): DerivedState {
  // Predictions need the model in force; the P(alive) crossing becomes a review instant.
  const prediction = predictFromDigest(context.fit, digest, context.now, context.policy.at_risk.p_alive_below);
  return deriveCustomerState({
    digest,
    traits: customer.traits,
    now: context.now,
    stats: { breakpoints: context.stats.breakpoints, abc: context.stats.abc },
    policy: context.policy,
    previous,
    segments: [...segments],
    // Time-based thresholds in segment rules get review instants too.
    segmentRules: segmentRules(context.segments),
    inForceSince: { policy: context.policySince, stats: context.stats.computedAt },
    predictions: prediction?.predictions ?? null,
    pAliveBelowAt: prediction?.pAliveBelowAt ?? null,
    pAliveBelowSince: prediction?.pAliveBelowSince ?? null,
  });
}

/** The rules of the saved segments, made once per segment list (a batch context's list is never changed). */
function segmentRules(segments: readonly SegmentDefinition[]): Rule[] {
  let rules = rulesBySegments.get(segments);
  if (!rules) rulesBySegments.set(segments, (rules = segments.map((d) => d.rule)));
  return rules;
}

const rulesBySegments = new WeakMap<readonly SegmentDefinition[], Rule[]>();

function planCustomer(customer: StoredCustomer, digest: CustomerDigest, context: BatchContext): CustomerPlan {
  const { now } = context;
  const before = [...customer.segments].sort();
  const previous = previousState(customer);
  const derived = deriveState(customer, digest, context, before, previous);
  // No saved segment, no membership: the record they are evaluated against is not built.
  const after =
    context.segments.length === 0 ? [] : segmentMembership(context.segments, ruleRecordOf(derived, { segments: [], predictions: derived.predictions, traits: customer.traits }));
  const entered = after.filter((k) => !before.includes(k));
  const exited = before.filter((k) => !after.includes(k));
  const changed = derived.changes.length > 0 || entered.length + exited.length > 0 || scoresDiffer(customer, derived);
  const sequence = changed ? customer.sequence + 1 : customer.sequence;
  const history: HistoryEntry[] = derived.changes.map((change) => ({
    customerId: customer.id,
    kind: change.kind,
    before: change.before,
    after: change.after,
    reasons: change.reasons,
    changedAt: change.changed_at,
    sequence,
  }));
  const segmentsChangedAt = segmentChangedAt({ previous, now }, derived.changes);
  for (const [key, member] of [...entered.map((k) => [k, true] as const), ...exited.map((k) => [k, false] as const)]) {
    history.push({
      customerId: customer.id,
      kind: 'segment',
      before: { segment: key, member: !member },
      after: { segment: key, member },
      reasons: [{ code: member ? 'entered' : 'exited', detail: `${member ? 'entered' : 'left'} segment ${key}` }],
      changedAt: segmentsChangedAt,
      sequence,
    });
  }
  const row = toStateRow(customer.id, derived, digest, now, sequence);
  return {
    id: customer.id,
    derived,
    row,
    previousHash: customer.stateHash,
    previousSequence: customer.sequence,
    differs: row.state_hash !== customer.stateHash,
    changed,
    history,
    segments: after,
    entered,
    exited,
    segmentsChangedAt,
  };
}

export function previousState(customer: StoredCustomer): PreviousState | null {
  if (customer.computedAt === null) return null;
  return {
    tier: customer.tier,
    lifecycle_stage: customer.lifecycleStage as LifecycleStage | null,
    at_risk: customer.atRisk,
    at_risk_reasons: (customer.atRiskReasons as { code: string }[]).map((r) => r.code),
    pending_tier: customer.pendingTier,
    pending_since: customer.pendingSince,
    next_review_at: customer.nextReviewAt,
    low_p_alive_since: reasonSince(customer.atRiskReasons, 'low_p_alive'),
    computed_at: customer.computedAt,
  };
}

function scoresDiffer(customer: StoredCustomer, d: DerivedState): boolean {
  return (
    customer.rScore !== (d.scores?.r_score ?? null) ||
    customer.fScore !== (d.scores?.f_score ?? null) ||
    customer.mScore !== (d.scores?.m_score ?? null) ||
    customer.valueScore !== (d.scores?.value_score ?? null) ||
    customer.rfmSegment !== d.rfm_segment ||
    customer.abcClass !== d.abc_class ||
    customer.computedAt === null
  );
}
