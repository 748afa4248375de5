import type { FieldProblem } from './field-problem.ts';
import { allStorable, isStorableText } from '../text.ts';

// What Postgres can hold (domain/text.ts), checked before anything is queued: a value that passes
// here is stored as sent, one that does not is refused with a 400 naming its path (README: "Event limits").

export const UNSTORABLE_TEXT_MESSAGE = 'must not contain NUL (U+0000) or an unpaired UTF-16 surrogate';

/** A key as it can be shown in a path: the characters that cannot be stored written as \uXXXX. */
function printableKey(key: string): string {
  return key.replace(/\u0000|[\ud800-\udfff]/g, (c) =>
    isStorableText(c) ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Every string (object keys included) in `value` that Postgres cannot store, at its path:
 * `events[3].customer_id`, `traits.tags[2]`, or the key itself for a bad key. Nesting deeper than
 * `maxDepth` is a problem of its own (JSON bodies are bounded in size, not in depth).
 */
export function unstorableTextProblems(value: unknown, path: string, problems: FieldProblem[] = [], maxDepth = 32): FieldProblem[] {
  // Paths are only built for a value that has a problem: a 1,000-event batch passes through here.
  if (allStorable(value, maxDepth)) return problems;
  if (typeof value === 'string') {
    if (!isStorableText(value)) problems.push({ path, message: UNSTORABLE_TEXT_MESSAGE });
  } else if (typeof value === 'object' && value !== null) {
    if (maxDepth === 0) {
      problems.push({ path, message: 'is nested too deeply' });
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) unstorableTextProblems(value[i], `${path}[${i}]`, problems, maxDepth - 1);
    } else {
      for (const key of Object.keys(value)) {
        const at = path === '' ? printableKey(key) : `${path}.${printableKey(key)}`;
        if (!isStorableText(key)) problems.push({ path: at, message: `key ${UNSTORABLE_TEXT_MESSAGE}` });
        unstorableTextProblems((value as Record<string, unknown>)[key], at, problems, maxDepth - 1);
      }
    }
  }
  return problems;
}

/**
 * The earliest instant an event may carry, after clock-skew correction: older instants are almost
 * always a zeroed or broken clock, and year 0 or earlier is outside what Postgres stores.
 */
export const MIN_EVENT_INSTANT = '1970-01-01T00:00:00Z';
export const MIN_EVENT_INSTANT_MS = Date.parse(MIN_EVENT_INSTANT);
