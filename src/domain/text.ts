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
 * Every string in a JSON value (keys included) that cannot be stored, with its path
 * (`rule.all[0].value`, a key as the path of its value).
 */
export function unstorableStrings(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; message: string }[] {
  if (typeof value === 'string') {
    const message = storableTextProblem(value);
    return message ? [{ path, message }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((item, i) => unstorableStrings(item, [...path, i]));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, item]) => {
      const keyProblem = storableTextProblem(key);
      return [
        ...(keyProblem ? [{ path: [...path, key], message: `key ${keyProblem}` }] : []),
        ...unstorableStrings(item, [...path, key]),
      ];
    });
  }
  return [];
}
