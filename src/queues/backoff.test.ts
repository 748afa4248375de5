import { describe, expect, it } from 'vitest';
import { cappedBackoff, CAPPED_BACKOFF, jobDefaults } from './queues.ts';

describe('capped backoff', () => {
  const job = (delay: number) => ({ opts: { backoff: { type: CAPPED_BACKOFF, delay } } });
  it.each([
    [1, 1_000, 1_000],
    [2, 1_000, 2_000],
    [6, 1_000, 32_000],
    [7, 1_000, 60_000],
    [999, 1_000, 60_000],
    [1, 5_000, 5_000],
    [5, 5_000, 60_000],
  ])('try %i after a %i ms base waits up to %i ms, and at least nine tenths of it', (attempt, base, most) => {
    for (let i = 0; i < 50; i++) {
      const wait = cappedBackoff(attempt, CAPPED_BACKOFF, undefined, job(base));
      expect(wait).toBeLessThanOrEqual(most);
      expect(wait).toBeGreaterThanOrEqual(Math.floor(most * 0.9));
    }
  });

  it('refuses a strategy it does not know, rather than retrying at once', () => {
    expect(() => cappedBackoff(1, 'linear', undefined, job(1_000))).toThrow(/linear/);
  });

  it('ingest and recompute outlast a long outage: their tries span more than 12 hours', () => {
    for (const queue of ['ingest', 'recompute'] as const) {
      const { attempts = 1 } = jobDefaults[queue];
      let waited = 0;
      for (let n = 1; n < attempts; n++) waited += cappedBackoff(n, CAPPED_BACKOFF, undefined, { opts: jobDefaults[queue] });
      expect(waited).toBeGreaterThan(12 * 3_600_000);
    }
  });
});
