import { addDays } from '../time.ts';

export interface DowngradeGraceInput {
  previousTier: string | null;
  pendingTier: string | null;
  pendingSince: Date | null;
  qualifiedTier: string | null;
  /** tier keys, best first */
  tiers: readonly string[];
  graceDays: number;
  now: Date;
  /** when the current qualification started, if earlier than now (a due review); default now */
  qualifiedSince?: Date;
}

export interface DowngradeGraceResult {
  tier: string | null;
  pendingTier: string | null;
  pendingSince: Date | null;
  /** while a downgrade is pending: when it will take effect */
  graceEndsAt: Date | null;
  /** when this call applied a downgrade whose grace ran out: the instant it ran out */
  graceEndedAt: Date | null;
}

// Upgrades, first assignments, re-qualifying for the current tier, a current tier that no longer
// exists in the policy, and becoming a prospect all take effect at once. A downgrade waits until
// the customer has qualified only for lower tiers for graceDays (inclusive); pendingSince is when
// that started and survives moves between lower tiers, so the grace is not restarted by them.
export function applyDowngradeGrace(input: DowngradeGraceInput): DowngradeGraceResult {
  const { previousTier, qualifiedTier, tiers, graceDays, now } = input;
  const settled = (tier: string | null): DowngradeGraceResult => ({
    tier,
    pendingTier: null,
    pendingSince: null,
    graceEndsAt: null,
    graceEndedAt: null,
  });
  if (qualifiedTier === null || previousTier === null) return settled(qualifiedTier);
  const previousRank = tiers.indexOf(previousTier);
  const rank = tiers.indexOf(qualifiedTier);
  const isDowngrade = previousRank >= 0 && rank > previousRank;
  if (!isDowngrade || graceDays <= 0) return settled(qualifiedTier);

  const pendingSince = input.pendingSince ?? input.qualifiedSince ?? now;
  const graceEndsAt = addDays(pendingSince, graceDays);
  if (now.getTime() >= graceEndsAt.getTime()) return { ...settled(qualifiedTier), graceEndedAt: graceEndsAt };
  return { tier: previousTier, pendingTier: qualifiedTier, pendingSince, graceEndsAt, graceEndedAt: null };
}

/** webhook `direction` of a tier change; null when nothing changed */
export function tierDirection(before: string | null, after: string | null, tiers: readonly string[]): 'up' | 'down' | 'initial' | null {
  if (before === after) return null;
  if (before === null) return 'initial';
  if (after === null) return 'down';
  const b = tiers.indexOf(before);
  const a = tiers.indexOf(after);
  return b < 0 || (a >= 0 && a < b) ? 'up' : 'down';
}
