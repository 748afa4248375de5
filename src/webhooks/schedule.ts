// Retry timing for webhook deliveries (spec §8). Pure: time and randomness are inputs.

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** Delay before attempt n+1 is RETRY_DELAYS_MS[n]; attempt 1 is immediate, 10 attempts in all. */
export const RETRY_DELAYS_MS: readonly number[] = Object.freeze([
  0,
  5 * SECOND_MS,
  5 * MINUTE_MS,
  30 * MINUTE_MS,
  2 * HOUR_MS,
  5 * HOUR_MS,
  10 * HOUR_MS,
  14 * HOUR_MS,
  20 * HOUR_MS,
  24 * HOUR_MS,
]);

export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length;
export const JITTER_FRACTION = 0.2;
// A receiver may ask us to back off, but not to park a message beyond our own longest step.
export const MAX_RETRY_AFTER_MS = DAY_MS;
export const DISABLE_AFTER_FAILING_MS = 5 * DAY_MS;

/**
 * Delay in ms before the next attempt, or null when `failedAttempt` (1-based) was the last one.
 * Jitter spreads retries of a burst of failures so a recovering receiver is not hit all at once.
 */
export function nextAttemptDelay(
  failedAttempt: number,
  random: () => number,
  retryAfterMs?: number | null,
): number | null {
  if (!Number.isInteger(failedAttempt) || failedAttempt < 1) {
    throw new RangeError(`attempt number must be a positive integer, got ${failedAttempt}`);
  }
  const scheduled = RETRY_DELAYS_MS[failedAttempt];
  if (scheduled === undefined) return null;
  // random() is in [0, 1): map it onto a factor in [0.8, 1.2).
  const jittered = Math.round(scheduled * (1 + JITTER_FRACTION * (2 * random() - 1)));
  // Retry-After can only lengthen the wait: a receiver asking for "retry in 1 s" must not let a
  // failing endpoint jump the schedule.
  if (retryAfterMs == null || !Number.isFinite(retryAfterMs) || retryAfterMs <= jittered) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

const DELAY_SECONDS = /^\d+$/;
// Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a day name. Checking that
// keeps Date.parse from reading junk such as "-1" or "2025" as a date.
const HTTP_DATE = /^[A-Za-z]{3}/;
// asctime ("Sun Nov  6 08:49:37 1994") carries no zone but means GMT; Date.parse would read it
// as local time.
const ASCTIME = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** Retry-After (RFC 9110 §10.2.3) as ms from `now`, or null when absent or malformed. */
export function parseRetryAfter(header: string | undefined, now: Date): number | null {
  if (header === undefined) return null;
  const value = header.trim();
  if (DELAY_SECONDS.test(value)) return Number(value) * SECOND_MS;
  if (!HTTP_DATE.test(value)) return null;
  const at = Date.parse(ASCTIME.test(value) ? `${value} GMT` : value);
  if (Number.isNaN(at)) return null;
  // A date in the past means "retry now", which the scheduled delay already covers.
  return Math.max(0, at - now.getTime());
}

export interface EndpointHealth {
  // First failure since the last success (null while the endpoint is healthy).
  firstFailureAt: Date | null;
  lastSuccessAt: Date | null;
  now: Date;
}

/** True once an endpoint has seen nothing but failures for DISABLE_AFTER_FAILING_MS. */
export function shouldDisableEndpoint({ firstFailureAt, lastSuccessAt, now }: EndpointHealth): boolean {
  if (firstFailureAt === null) return false;
  // A success after the recorded first failure means the streak was broken; the caller simply
  // has not cleared the marker yet (e.g. concurrent deliveries finishing out of order).
  if (lastSuccessAt !== null && lastSuccessAt.getTime() >= firstFailureAt.getTime()) return false;
  return now.getTime() - firstFailureAt.getTime() >= DISABLE_AFTER_FAILING_MS;
}
