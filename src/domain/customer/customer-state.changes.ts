import { isLapsed, stageReason, stageSince, type AtRiskStatus, type LifecycleStage } from '../lifecycle/lifecycle.ts';
import type { Metrics } from '../facts/metrics.ts';
import type { DowngradeGraceResult, TierMatch, TierPolicy } from '../policy/policy.ts';
import { maxDate, minDate } from '../time.ts';

export interface ChangeReason {
  code: string;
  detail: string;
}

export interface Change {
  kind: 'tier' | 'lifecycle_stage' | 'at_risk';
  before: string | boolean | null;
  after: string | boolean | null;
  reasons: ChangeReason[];
  /** the instant the change became true (never after now) */
  changed_at: Date;
}

export interface ScoreSet {
  r_score: number;
  f_score: number;
  m_score: number;
  value_score: number;
}

export interface ChangeContext {
  previous: {
    tier: string | null;
    lifecycle_stage: LifecycleStage | null;
    at_risk: boolean;
    pending_since: Date | null;
    next_review_at: Date | null;
    computed_at?: Date | null;
  } | null;
  now: Date;
  policy: TierPolicy;
  metrics: Metrics;
  countedOrderTimes: Date[];
  scores: ScoreSet | null;
  match: TierMatch | null;
  grace: DowngradeGraceResult;
  stage: LifecycleStage;
  atRisk: AtRiskStatus;
  /** when the policy (any change) and the statistics (tier changes) in force took effect */
  inForceSince?: { policy: Date | null; stats: Date | null } | undefined;
}

// When did a change become true? A recompute runs either because a review fell due (then nothing
// could have changed before previous.next_review_at - 1 ms: the boundary instant of a strict
// threshold, which docs/architecture.md, At-risk flag, names as the start) or because of new data / a new policy or
// statistics (then "now"). Where the data pins the instant down (stage start, at-risk since, grace
// end) that is used, but never before that bound nor before the previous computation, so history
// stays in order, and never after now. Nor before the policy or statistics that caused it: a
// customer moved by a new policy moved when the policy was saved.
export function reviewInstants(ctx: Pick<ChangeContext, 'previous' | 'now'>): ReviewInstants {
  const { previous, now } = ctx;
  const due = previous?.next_review_at && previous.next_review_at.getTime() <= now.getTime() ? previous.next_review_at : null;
  const floor = maxDate([previous?.computed_at, due ? new Date(due.getTime() - 1) : null]);
  return { dueOrNow: due ?? now, floor, now };
}

export interface ReviewInstants {
  /** when the review fell due, else now */
  dueOrNow: Date;
  /** no change is dated before it (null: no bound) */
  floor: Date | null;
  now: Date;
}

/** When a change that became true at `t` is dated: not before the floor nor `notBefore`, never after now. */
export function changeInstant(bounds: ReviewInstants, t: Date, notBefore?: Date | null): Date {
  return minDate([maxDate([t, bounds.floor, notBefore]), bounds.now]) ?? bounds.now;
}

// One change per field that differs from the previous state; with no previous state, initial
// assignments are changes from null, except a prospect's null tier and a false at-risk flag.
export function detectChanges(ctx: ChangeContext): Change[] {
  const { previous, metrics, atRisk, stage, grace, policy } = ctx;
  const bounds = reviewInstants(ctx);
  const { dueOrNow } = bounds;
  const policySince = ctx.inForceSince?.policy ?? null;
  const tierSince = maxDate([policySince, ctx.inForceSince?.stats]);
  const changes: Change[] = [];

  const beforeTier = previous?.tier ?? null;
  if (grace.tier !== beforeTier) {
    changes.push({
      kind: 'tier',
      before: beforeTier,
      after: grace.tier,
      reasons: tierReasons(ctx),
      changed_at: changeInstant(bounds, grace.graceEndedAt ?? dueOrNow, tierSince),
    });
  }

  const beforeStage = previous?.lifecycle_stage ?? null;
  if (stage !== beforeStage) {
    changes.push({
      kind: 'lifecycle_stage',
      before: beforeStage,
      after: stage,
      reasons: [stageReason(stage, metrics, atRisk, policy.lifecycle)],
      changed_at: changeInstant(bounds, stageSince(stage, metrics, atRisk, policy.lifecycle, dueOrNow, ctx.countedOrderTimes), policySince),
    });
  }

  const beforeRisk = previous?.at_risk ?? false;
  if (atRisk.flagged !== beforeRisk) {
    changes.push({
      kind: 'at_risk',
      before: beforeRisk,
      after: atRisk.flagged,
      reasons: atRisk.flagged ? atRisk.reasons.map(({ code, detail }) => ({ code, detail })) : [clearedReason(ctx)],
      changed_at: changeInstant(bounds, atRisk.flagged ? (atRisk.since ?? dueOrNow) : dueOrNow, policySince),
    });
  }
  return changes;
}

function tierReasons(ctx: ChangeContext): ChangeReason[] {
  const { match, scores, grace, previous, policy } = ctx;
  if (grace.tier === null || match === null) {
    return [{ code: 'no_counted_orders', detail: 'no counted orders: the customer is a prospect and has no tier' }];
  }
  const reasons: ChangeReason[] = [
    match.ruleIndex === null
      ? { code: 'fallback', detail: `no tier rule matched; '${match.key}' is the fallback tier` }
      : { code: 'rule_matched', detail: `matched the rule of tier '${match.key}' (tiers[${match.ruleIndex}])` },
  ];
  if (scores) {
    reasons.push({
      code: 'scores',
      detail: `R${scores.r_score} F${scores.f_score} M${scores.m_score}, value_score ${scores.value_score}`,
    });
  }
  if (grace.graceEndedAt) {
    const since = previous?.pending_since?.toISOString() ?? 'earlier';
    reasons.push({
      code: 'downgrade_grace_ended',
      detail: `qualified only for lower tiers since ${since}; the ${policy.downgrade_grace_days}-day grace ended`,
    });
  }
  return reasons;
}

function clearedReason(ctx: ChangeContext): ChangeReason {
  if (ctx.metrics.order_count === 0) return { code: 'prospect', detail: 'no counted orders: only buyers can be at risk' };
  if (isLapsed(ctx.metrics, ctx.policy.lifecycle)) {
    return { code: 'lapsed', detail: 'the customer has lapsed: the at-risk warning applies to active buyers only' };
  }
  return { code: 'cleared', detail: 'no at-risk reason holds any more' };
}

/**
 * When this recompute's segment membership changes (entered or exited) became true. Membership is
 * decided by the recomputed state, so it changed when that state did: at the latest of the tier,
 * stage and at-risk changes found with it, else when the review fell due (time alone moved the
 * customer, e.g. past a recency threshold of the rule), else now (new data, a new segment rule).
 * Bounded like every other change (reviewInstants): not before the previous computation, never
 * after now.
 */
export function segmentChangedAt(ctx: Pick<ChangeContext, 'previous' | 'now'>, changes: readonly Pick<Change, 'changed_at'>[]): Date {
  const bounds = reviewInstants(ctx);
  return changeInstant(bounds, maxDate(changes.map((c) => c.changed_at)) ?? bounds.dueOrNow);
}
