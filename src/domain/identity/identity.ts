// Identity merges (docs/architecture.md, "Identity"): which merges are refused, and which profile
// survives a merge by trait. Pure: the store resolves ids and reads first events, this decides.

/** The prefix of a profile kept for anonymous-only messages (`/compat/segment`): `anon:<anonymousId>`. */
export const ANONYMOUS_PREFIX = 'anon:';

export const anonymousId = (id: string): string => `${ANONYMOUS_PREFIX}${id}`;
export const isAnonymous = (customerId: string): boolean => customerId.startsWith(ANONYMOUS_PREFIX);

export type MergeRefusal = 'self_merge' | 'cycle';

export type MergeDecision =
  | { outcome: 'merge'; survivor: string; merged: string }
  | { outcome: 'already_merged'; survivor: string }
  | { outcome: 'refused'; reason: MergeRefusal };

/**
 * What an alias asking to merge `previousId` into `customerId` does, given where each id now
 * resolves (the id itself unless it was merged; aliases always name the final survivor). The
 * profile `previousId` belongs to is merged into the one `customerId` belongs to. Refused: an id
 * merged into itself, and a merge whose survivor was itself merged into the other (b merged into
 * a, then "merge a into b"), which would make a cycle. Both ids already in one profile: nothing to do.
 */
export function decideMerge(input: { customerId: string; previousId: string; survivorOfCustomer: string; survivorOfPrevious: string }): MergeDecision {
  const { customerId, previousId, survivorOfCustomer, survivorOfPrevious } = input;
  if (customerId === previousId) return { outcome: 'refused', reason: 'self_merge' };
  if (survivorOfCustomer === survivorOfPrevious) {
    // customerId was merged (directly or through a chain) into previousId's profile.
    return customerId !== survivorOfCustomer ? { outcome: 'refused', reason: 'cycle' } : { outcome: 'already_merged', survivor: survivorOfCustomer };
  }
  return { outcome: 'merge', survivor: survivorOfCustomer, merged: survivorOfPrevious };
}

export const REFUSAL_MESSAGES: Record<MergeRefusal, string> = {
  self_merge: 'a customer cannot be merged into itself',
  cycle: 'customer_id was already merged into previous_id; merging back would make a cycle',
};

/** An email as compared for a merge by trait: trimmed and lower-cased; null when it is not one. */
export function normaliseEmail(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const email = value.trim().toLowerCase();
  return /^[^\s@]+@[^\s@]+$/.test(email) ? email : null;
}

export interface MergeCandidate {
  id: string;
  /** the earliest occurred_at of its stored events; null without any */
  firstEventAt: Date | null;
}

/**
 * The survivor of a merge by trait: a known id wins over an anonymous one (`anon:`); between two
 * of a kind, the one whose first event is earlier; then the smaller id (code point order), so
 * the same profiles always give the same survivor whatever order their events arrived in.
 */
export function chooseSurvivor(candidates: readonly MergeCandidate[]): MergeCandidate {
  if (candidates.length === 0) throw new Error('chooseSurvivor needs at least one candidate');
  const rank = (c: MergeCandidate) => [isAnonymous(c.id) ? 1 : 0, c.firstEventAt?.getTime() ?? Number.POSITIVE_INFINITY] as const;
  return candidates.reduce((best, c) => {
    const [a, b] = [rank(c), rank(best)];
    if (a[0] !== b[0]) return a[0] < b[0] ? c : best;
    if (a[1] !== b[1]) return a[1] < b[1] ? c : best;
    return c.id < best.id ? c : best;
  });
}
