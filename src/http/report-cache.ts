import { z } from 'zod';
import type { Deps } from '../deps.ts';

/** Longest age a caller may accept, and so how long a computed report is kept. */
export const MAX_REPORT_AGE_S = 3600;

export const maxAgeQuery = z.object({
  max_age: z.coerce
    .number()
    .int()
    .min(0)
    .max(MAX_REPORT_AGE_S)
    .default(0)
    .describe('seconds: answer from a report computed at most this long ago (by any replica) instead of scanning every customer again; 0 (the default) always computes it now'),
});

interface Stored<T> {
  computed_at: string;
  body: T;
}

/**
 * Whole-table reports cost a scan of every customer (hundreds of milliseconds at a million). A
 * caller that accepts `max_age` seconds of staleness (the dashboard does) gets the last result any
 * replica computed, from Redis, in milliseconds; every computation refreshes it. Redis trouble only
 * means computing it now.
 */
export async function cachedReport<T extends object>(
  deps: Pick<Deps, 'redis' | 'clock' | 'config' | 'logger'>,
  name: string,
  maxAgeS: number,
  compute: () => Promise<T>,
): Promise<T & { computed_at: string }> {
  const key = `${deps.config.QUEUE_PREFIX}:report:${name}`;
  if (maxAgeS > 0) {
    try {
      const raw = await deps.redis.get(key);
      if (raw) {
        const stored = JSON.parse(raw) as Stored<T>;
        if (deps.clock.now().getTime() - Date.parse(stored.computed_at) <= maxAgeS * 1000) return { ...stored.body, computed_at: stored.computed_at };
      }
    } catch (err) {
      deps.logger.warn({ err, report: name }, 'report cache unreadable; computing the report');
    }
  }
  const computedAt = deps.clock.now().toISOString();
  const body = await compute();
  try {
    await deps.redis.set(key, JSON.stringify({ computed_at: computedAt, body } satisfies Stored<T>), 'PX', MAX_REPORT_AGE_S * 1000);
  } catch (err) {
    deps.logger.warn({ err, report: name }, 'report cache not written');
  }
  return { ...body, computed_at: computedAt };
}
