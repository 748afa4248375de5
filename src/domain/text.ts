/**
 * Whether a string can be stored in a Postgres text or jsonb column: Postgres refuses the NUL
 * character (U+0000) in both, and a lone UTF-16 surrogate (half of a pair, e.g. "\ud800") has no
 * UTF-8 encoding. Returns the problem as a message for a 400, or null when the string is fine.
 */
export function storableTextProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(value)) return 'must not contain a lone UTF-16 surrogate (U+D800–U+DFFF)';
  return null;
}

/** With the u flag a well-formed pair is one code point, so only unpaired halves match. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * How deep a JSON value is walked. A request body is bounded in size (1 MB), not in depth, and a
 * body of nested brackets a few thousand levels deep would exhaust the stack of any recursive walk
 * (this one, JSON.stringify, a schema check): it is refused here with the path where it goes too
 * deep. Events have their own, tighter limit of 32 levels (README: "Event limits"); 64 leaves room
 * for the envelope of a batch around them.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether a JSON value nests more than `maxDepth` levels of arrays and objects (walking no deeper). */
export function nestsDeeperThan(value: unknown, maxDepth = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (maxDepth === 0) return true;
  for (const item of Array.isArray(value) ? value : Object.values(value)) if (nestsDeeperThan(item, maxDepth - 1)) return true;
  return false;
}

/**
 * Every string in a JSON value (keys included) that cannot be stored, with its path
 * (`rule.all[0].value`, a key as the path of its value), and a value nested deeper than
 * `maxDepth` levels as a problem of its own.
 */
export function unstorableStrings(
  value: unknown,
  path: (string | number)[] = [],
  maxDepth = MAX_JSON_DEPTH,
): { path: (string | number)[]; message: string }[] {
  if (typeof value === 'string') {
    const message = storableTextProblem(value);
    return message ? [{ path, message }] : [];
  }
  if (value === null || typeof value !== 'object') return [];
  if (maxDepth === 0) return [{ path, message: `is nested more than ${MAX_JSON_DEPTH} levels deep` }];
  if (Array.isArray(value)) return value.flatMap((item, i) => unstorableStrings(item, [...path, i], maxDepth - 1));
  return Object.entries(value).flatMap(([key, item]) => {
    const keyProblem = storableTextProblem(key);
    return [
      ...(keyProblem ? [{ path: [...path, key], message: `key ${keyProblem}` }] : []),
      ...unstorableStrings(item, [...path, key], maxDepth - 1),
    ];
  });
}
