import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, manualClock, startService, type TestService } from './harness.ts';
import { planPopulation, toEvents } from './population.fixture.ts';
import { processIngest } from '../src/workers/ingest.worker.ts';
import { refreshAndRescore } from '../src/services/rescore.service.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 86_400_000;
const plan = planPopulation(400, NOW, 23);

/**
 * Each customer row's version (xmin: a new one on every write) and everything it stores but when
 * it was computed (the metrics that move with the clock alone are measured when read, not stored).
 */
async function rows(svc: TestService): Promise<Map<string, { version: string; state: string }>> {
  const result = await svc.deps.db.execute<{ id: string; version: string; state: string }>(sql`
    select id, xmin::text as version,
      (to_jsonb(c) - 'computed_at')::text as state
    from customers c order by id`);
  return new Map(result.rows.map((r) => [r.id, { version: r.version, state: r.state }]));
}

const rewritten = (before: Map<string, { version: string }>, after: Map<string, { version: string }>) =>
  [...after].filter(([id, row]) => before.get(id)?.version !== row.version).map(([id]) => id);
const changed = (before: Map<string, { state: string }>, after: Map<string, { state: string }>) =>
  [...after].filter(([id, row]) => before.get(id)?.state !== row.state).map(([id]) => id);

describe('a rescore writes only the customers whose stored state changes', () => {
  const clock = manualClock(NOW);
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ clock, workers: false });
    const events = toEvents(plan);
    for (let i = 0; i < events.length; i += 1_000) {
      const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events: events.slice(i, i + 1_000) }, headers: auth() });
      expect(res.statusCode, res.body).toBe(202);
    }
    for (const job of await svc.deps.queues.ingest.getJobs(['waiting'])) await processIngest(svc.deps, job);
    // The first rescore derives everyone.
    await refreshAndRescore(svc.deps);
  }, 120_000);
  afterAll(async () => {
    await svc?.close();
  });

  it('a day later: the daily refresh rewrites exactly the rows whose state differs, and deriving everyone then writes nothing', async () => {
    const before = await rows(svc);
    expect(before.size).toBe(plan.length);
    clock.set(new Date(NOW.getTime() + DAY));

    await refreshAndRescore(svc.deps, { changedOnly: true });
    const after = await rows(svc);
    const writes = rewritten(before, after);
    // A day moves some customers (reviews fall due, recency crosses breakpoints) and leaves most as they were.
    expect(writes.length).toBeGreaterThan(0);
    expect(writes.length).toBeLessThan(plan.length / 2);
    expect(writes.sort()).toEqual(changed(before, after).sort());

    // Deriving every customer at the same instant finds nothing the daily refresh missed, and
    // rewrites none of the rows whose state it derives unchanged.
    const full = await refreshAndRescore(svc.deps);
    expect(full.customers).toBe(plan.length);
    expect(rewritten(after, await rows(svc))).toEqual([]);
  }, 120_000);

  it('another day with nothing due and the same statistics: a full rescore rewrites only what changes', async () => {
    const before = await rows(svc);
    clock.set(new Date(NOW.getTime() + 2 * DAY));
    await refreshAndRescore(svc.deps);
    const after = await rows(svc);
    expect(rewritten(before, after).sort()).toEqual(changed(before, after).sort());
    expect(rewritten(before, after).length).toBeLessThan(plan.length / 2);
  }, 120_000);
});
