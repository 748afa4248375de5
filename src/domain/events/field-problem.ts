/** One thing wrong with an input, at a path such as `events[3].amount`. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** `formatPath(['events', 3, 'amount'])` → `events[3].amount`; a prefix goes in front (`rule`, `events`). */
export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Events may be stamped at most this far past the (skew-corrected) receipt time. */
export const MAX_FUTURE_MS = 5 * 60_000;
