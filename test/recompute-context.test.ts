// A recompute worker keeps its context (policy, statistics, segments, model fit) while their
// fingerprint stays the same (recomputeContextCache in src/services/recompute.service.ts): every
// change to any of them must still count from the next batch on, as when each batch read them all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, eventually, manualClock, startService, type TestService } from './harness.ts';
import { recomputeContextCache } from '../src/services/recompute.service.ts';
import { enqueueRecomputes } from '../src/queues/queues.ts';
import { DEFAULT_POLICY } from '../src/domain/policy/policy.ts';
import { savePolicy } from '../src/store/policies.repo.ts';
import { deleteSegment, upsertSegment } from '../src/store/segments.repo.ts';
import { refreshPopulationStatsLocked } from '../src/store/stats.repo.ts';

const NOW = new Date('2026-06-15T12:00:00Z');

describe('a kept recompute context', () => {
  let svc: TestService;
  const clock = manualClock(NOW);
  beforeAll(async () => {
    svc = await startService({ clock });
  });
  afterAll(async () => svc?.close());

  it('is read again after a policy, a statistics refresh or a segment is saved, and only then', async () => {
    const context = recomputeContextCache(svc.deps);
    // The first read computes the statistics (there are none yet): a change the second read sees.
    const computed = await context(NOW);
    const first = await context(NOW);
    expect(first).not.toBe(computed);
    expect(await context(NOW)).toBe(first);

    await savePolicy(svc.deps.db, DEFAULT_POLICY, new Date(NOW.getTime() + 1_000));
    const afterPolicy = await context(NOW);
    expect(afterPolicy).not.toBe(first);
    expect(afterPolicy.policySince).toEqual(new Date(NOW.getTime() + 1_000));

    await refreshPopulationStatsLocked(svc.deps.db, new Date(NOW.getTime() + 2_000));
    const afterStats = await context(NOW);
    expect(afterStats).not.toBe(afterPolicy);
    expect(afterStats.stats.computedAt).toEqual(new Date(NOW.getTime() + 2_000));

    // Saved twice at one instant: the rule itself is part of the fingerprint, not only the instant.
    await upsertSegment(svc.deps.db, { key: 'ctx', name: 'ctx', rule: { field: 'order_count', op: 'gte', value: 1 } }, NOW);
    const afterSegment = await context(NOW);
    expect(afterSegment.segments.map((s) => s.rule)).toEqual([{ field: 'order_count', op: 'gte', value: 1 }]);
    await upsertSegment(svc.deps.db, { key: 'ctx', name: 'ctx', rule: { field: 'order_count', op: 'gte', value: 2 } }, NOW);
    expect((await context(NOW)).segments.map((s) => s.rule)).toEqual([{ field: 'order_count', op: 'gte', value: 2 }]);
    await deleteSegment(svc.deps.db, 'ctx');
    expect((await context(NOW)).segments).toEqual([]);
  });

  it('lets the drain worker apply a segment saved between two recomputes of a customer', async () => {
    const customer = async () => (await svc.app.inject({ url: '/v1/customers/kc', headers: auth() })).json();
    const order = { id: 'kc-1', type: 'order', customer_id: 'kc', occurred_at: new Date(NOW.getTime() - 86_400_000).toISOString(), order_id: 'kc-o1', amount: '40.00' };
    expect((await svc.app.inject({ method: 'POST', url: '/v1/events', payload: order, headers: auth() })).statusCode).toBe(202);
    await eventually(async () => ((await customer()).metrics?.order_count === 1 ? true : undefined), 60_000, 'the order to be recomputed');
    expect((await customer()).segments).toEqual([]);

    await upsertSegment(svc.deps.db, { key: 'buyers', name: 'Buyers', rule: { field: 'order_count', op: 'gte', value: 1 } }, NOW);
    await enqueueRecomputes(svc.deps, ['kc']);
    await eventually(async () => ((await customer()).segments.includes('buyers') ? true : undefined), 60_000, 'the customer to enter the new segment');

    // The same key saved again at the same instant with a rule the customer no longer meets.
    await upsertSegment(svc.deps.db, { key: 'buyers', name: 'Buyers', rule: { field: 'order_count', op: 'gte', value: 5 } }, NOW);
    await enqueueRecomputes(svc.deps, ['kc']);
    await eventually(async () => ((await customer()).segments.length === 0 ? true : undefined), 60_000, 'the customer to leave the changed segment');
  });
});
