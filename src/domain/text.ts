/**
 * Whether a string can be stored in a Postgres text or jsonb column: Postgres refuses the NUL
 * character (U+0000) in both, and a lone UTF-16 surrogate (half of a pair, e.g. "\ud800") has no
 * UTF-8 encoding. Returns the problem as a message for a 400, or null when the string is fine.
 */
export function storableTextProblem(value: string): string | null {
  if (!SUSPECT.test(value)) return null;
  if (value.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(value)) return 'must not contain a lone UTF-16 surrogate (U+D800–U+DFFF)';
  return null;
}

/** NUL or any surrogate: a cheap first test, since almost every string has neither. */
const SUSPECT = /[\u0000\ud800-\udfff]/;
/** With the u flag a well-formed pair is one code point, so only unpaired halves match. */
const LONE_SURROGATE = /\p{Cs}/u;

/** A string Postgres stores unchanged in text and jsonb. */
export const isStorableText = (value: string): boolean => storableTextProblem(value) === null;

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
 * Whether every string in a JSON value (keys included) is storable and nothing nests deeper than
 * `maxDepth` levels. Builds no paths and allocates nothing: the walk every request body takes (a
 * 1,000-event batch included), where almost every value passes.
 */
export function allStorable(value: unknown, maxDepth = MAX_JSON_DEPTH): boolean {
  if (typeof value === 'string') return isStorableText(value);
  if (value === null || typeof value !== 'object') return true;
  if (maxDepth === 0) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!allStorable(value[i], maxDepth - 1)) return false;
    return true;
  }
  for (const key in value) {
    if (!isStorableText(key) || !allStorable((value as Record<string, unknown>)[key], maxDepth - 1)) return false;
  }
  return true;
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
  // Paths are built only below a value that holds a problem (allStorable is the common case).
  if (allStorable(value, maxDepth)) return [];
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
