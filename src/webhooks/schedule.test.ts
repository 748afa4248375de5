import { describe, expect, it } from 'vitest';
import {
  DISABLE_AFTER_FAILING_MS,
  MAX_ATTEMPTS,
  RETRY_DELAYS_MS,
  nextAttemptDelay,
  parseRetryAfter,
  shouldDisableEndpoint,
} from './schedule.ts';

const S = 1_000;
const MIN = 60 * S;
const H = 60 * MIN;
const D = 24 * H;
const fixed = (value: number) => () => value;

describe('RETRY_DELAYS_MS', () => {
  it('is the spec schedule: now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h', () => {
    expect(RETRY_DELAYS_MS).toEqual([0, 5 * S, 5 * MIN, 30 * MIN, 2 * H, 5 * H, 10 * H, 14 * H, 20 * H, 24 * H]);
    expect(MAX_ATTEMPTS).toBe(10);
  });
});

describe('nextAttemptDelay', () => {
  it.each([
    // failed attempt, random, expected delay
    [1, 0.5, 5 * S],
    [1, 0, 4 * S],
    [1, 0.999999, 6 * S],
    [2, 0.5, 5 * MIN],
    [2, 0, 4 * MIN],
    [3, 0.5, 30 * MIN],
    [3, 0.75, 33 * MIN],
    [4, 0.25, 108 * MIN],
    [5, 0.5, 5 * H],
    [6, 0.5, 10 * H],
    [7, 0.5, 14 * H],
    [8, 0.5, 20 * H],
    [9, 0.5, 24 * H],
    [9, 0, 19.2 * H],
    [9, 0.75, 26.4 * H],
  ])('after attempt %i with random %f waits %i ms', (attempt, random, expected) => {
    expect(nextAttemptDelay(attempt, fixed(random))).toBe(expected);
  });

  it.each([10, 11, 50])('gives up after attempt %i', (attempt) => {
    expect(nextAttemptDelay(attempt, fixed(0.5))).toBeNull();
    expect(nextAttemptDelay(attempt, fixed(0.5), 60 * S)).toBeNull();
  });

  it('keeps every jittered delay within ±20% of the schedule', () => {
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      const base = RETRY_DELAYS_MS[attempt] ?? Number.NaN;
      for (const r of [0, 0.1, 0.5, 0.9, 0.999999]) {
        const delay = nextAttemptDelay(attempt, fixed(r)) ?? Number.NaN;
        expect(delay).toBeGreaterThanOrEqual(base * 0.8);
        expect(delay).toBeLessThanOrEqual(base * 1.2);
      }
    }
  });

  it.each([
    // failed attempt, retry-after ms, expected delay (random 0.5 → no jitter)
    [1, 60 * S, 60 * S], // longer than 5 s: honoured
    [1, 2 * S, 5 * S], // shorter: the schedule wins
    [3, 2 * H, 2 * H],
    [2, 3 * D, 24 * H], // clamped to 24 h
    [9, 3 * D, 24 * H],
    [1, null, 5 * S],
    [1, undefined, 5 * S],
    [1, 0, 5 * S],
    [1, -10 * S, 5 * S],
    [1, Number.POSITIVE_INFINITY, 5 * S],
    [1, Number.NaN, 5 * S],
  ])('after attempt %i with Retry-After %s ms waits %i ms', (attempt, retryAfter, expected) => {
    expect(nextAttemptDelay(attempt, fixed(0.5), retryAfter)).toBe(expected);
  });

  it('never lets the clamp shorten a jittered delay above 24 h', () => {
    expect(nextAttemptDelay(9, fixed(0.75), 3 * D)).toBe(26.4 * H);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects attempt number %s', (attempt) => {
    expect(() => nextAttemptDelay(attempt, fixed(0.5))).toThrow(RangeError);
  });
});

describe('parseRetryAfter', () => {
  const now = new Date('2025-03-01T12:00:00Z');
  it.each([
    ['120', 120 * S],
    [' 5 ', 5 * S],
    ['0', 0],
    ['Sat, 01 Mar 2025 12:05:00 GMT', 5 * MIN],
    ['Saturday, 01-Mar-25 12:00:30 GMT', 30 * S],
    ['Sat Mar  1 13:00:00 2025', 1 * H], // asctime: no zone, means GMT
    ['Sat, 01 Mar 2025 11:00:00 GMT', 0], // in the past
    [undefined, null],
    ['', null],
    ['soon', null],
    ['-5', null],
    ['1.5', null],
    ['86400', 1 * D],
    ['Fri, 99 Foo 2025 00:00:00 GMT', null],
  ])('parses %j as %s ms', (header, expected) => {
    expect(parseRetryAfter(header, now)).toBe(expected);
  });
});

describe('shouldDisableEndpoint', () => {
  const now = new Date('2025-03-10T00:00:00Z');
  const ago = (ms: number) => new Date(now.getTime() - ms);
  it.each([
    ['healthy (no failures)', null, ago(1 * H), false],
    ['never delivered, no failures', null, null, false],
    ['failing for 4 days', ago(4 * D), ago(10 * D), false],
    ['failing for just under 5 days', ago(5 * D - 1), null, false],
    ['failing for exactly 5 days', ago(5 * D), ago(6 * D), true],
    ['failing for 6 days, never succeeded', ago(6 * D), null, true],
    ['old failure marker but a success since', ago(6 * D), ago(1 * D), false],
    ['success at the same instant as the first failure', ago(6 * D), ago(6 * D), false],
  ])('%s → %s', (_label, firstFailureAt, lastSuccessAt, expected) => {
    expect(shouldDisableEndpoint({ firstFailureAt, lastSuccessAt, now })).toBe(expected);
  });

  it('uses a 5-day threshold', () => {
    expect(DISABLE_AFTER_FAILING_MS).toBe(5 * D);
  });
});
