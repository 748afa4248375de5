import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, manualClock, settle, startService, type TestService } from './harness.ts';
import { sweepDueReviews } from '../src/services/sweep.service.ts';
import { recomputeCustomers } from '../src/services/recompute.service.ts';
import { dirtyKeys, listDirty, RECOMPUTE_SHARDS } from '../src/queues/recompute.dirty.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 86_400_000;
const ago = (d: number, from = NOW) => new Date(from.getTime() - d * DAY).toISOString();

let seq = 0;
const order = (customer: string, daysAgo: number, amount = '50.00') => ({
  id: `ev-${++seq}`, type: 'order', customer_id: customer, occurred_at: ago(daysAgo), order_id: `o-${seq}`, amount,
});
const interaction = (customer: string, daysAgo: number, kind: string, satisfaction?: number) => ({
  id: `ev-${++seq}`, type: 'interaction', customer_id: customer, occurred_at: ago(daysAgo), kind, ...(satisfaction ? { satisfaction } : {}),
});

/** Forgets the recomputes the ingest asked for (the test ran them itself). */
async function clearDirty(svc: TestService) {
  for (let shard = 0; shard < RECOMPUTE_SHARDS; shard++) {
    const keys = dirtyKeys(svc.config.QUEUE_PREFIX, shard);
    await svc.deps.redis.del(keys.order, keys.counts);
  }
}

async function post(svc: TestService, events: object[]) {
  const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() });
  expect(res.statusCode, res.body).toBe(202);
}
const getCustomer = async (svc: TestService, id: string) =>
  (await svc.app.inject({ method: 'GET', url: `/v1/customers/${id}`, headers: auth() })).json();
const history = async (svc: TestService, id: string) =>
  (await svc.app.inject({ method: 'GET', url: `/v1/customers/${id}/history?limit=1000`, headers: auth() })).json().items as {
    kind: string; before: unknown; after: unknown; reasons: { code: string }[]; changed_at: string; sequence: number;
  }[];

describe('lifecycle stages and at-risk reasons', () => {
  let svc: TestService;
  const scenarios: Array<[string, object[], string, string[]]> = [
    ['prospect', [interaction('s-prospect', 3, 'site_visit')], 'prospect', []],
    ['new', [order('s-new', 5)], 'new', []],
    ['active', [order('s-active', 100), order('s-active', 50), order('s-active', 10)], 'active', []],
    ['loyal', [300, 250, 200, 150, 100, 20].map((d) => order('s-loyal', d)), 'loyal', []],
    ['lapsed', [order('s-lapsed', 500), order('s-lapsed', 400)], 'lapsed', []],
    ['reactivated', [order('s-react', 800), order('s-react', 10)], 'reactivated', []],
    ['overdue vs cadence', [order('s-overdue', 100), order('s-overdue', 90), order('s-overdue', 80)], 'at_risk', ['overdue_vs_cadence']],
    ['one-time buyer overdue', [order('s-once', 120)], 'at_risk', ['one_time_buyer_overdue']],
    ['complaints', [order('s-complain', 10), interaction('s-complain', 8, 'complaint'), interaction('s-complain', 2, 'complaint')], 'at_risk', ['complaints']],
    ['low satisfaction', [order('s-unhappy', 10), interaction('s-unhappy', 6, 'survey', 1), interaction('s-unhappy', 3, 'review', 2)], 'at_risk', ['low_satisfaction']],
  ];

  beforeAll(async () => {
    svc = await startService({ clock: manualClock(NOW) });
    const events = scenarios.flatMap(([, e]) => e);
    await post(svc, events);
    await settle(svc, events.length);
  });
  afterAll(async () => svc?.close());

  it.each(scenarios)('%s', async (_name, events, stage, reasons) => {
    const id = (events[0] as { customer_id: string }).customer_id;
    const c = await getCustomer(svc, id);
    expect(c.lifecycle_stage).toBe(stage);
    expect(c.at_risk.flagged).toBe(reasons.length > 0);
    expect(c.at_risk.reasons.map((r: { code: string }) => r.code)).toEqual(reasons);
    if (reasons.length > 0) expect(c.at_risk.since).toEqual(expect.any(String));
  });

  it('reports when an overdue reason started to hold, not when it was noticed', async () => {
    const c = await getCustomer(svc, 's-once');
    expect(c.at_risk.since).toBe(new Date(NOW.getTime() - 120 * DAY + 90 * DAY).toISOString());
  });
});

describe('time moves state with no new event', () => {
  let svc: TestService;
  const clock = manualClock(NOW);
  const T0 = new Date(NOW.getTime() - DAY);
  beforeAll(async () => {
    svc = await startService({ clock, config: { SWEEP_INTERVAL_MS: 200 } });
    await post(svc, [
      { id: 'drift-1', type: 'order', customer_id: 'drift', occurred_at: T0.toISOString(), order_id: 'd1', amount: '80' },
      ...Array.from({ length: 20 }, (_, i) => order(`busy-${i}`, i % 5)),
    ]);
    await settle(svc, 21);
  });
  afterAll(async () => svc?.close());

  it('turns a silent one-time buyer at-risk, then lapsed, through the sweep alone', async () => {
    expect((await getCustomer(svc, 'drift')).lifecycle_stage).toBe('new');
    const atRiskAt = new Date(T0.getTime() + 90 * DAY);
    clock.set(new Date(atRiskAt.getTime() + 3_600_000));
    const flagged = await eventually(async () => {
      const c = await getCustomer(svc, 'drift');
      return c.lifecycle_stage === 'at_risk' ? c : undefined;
    }, 10_000, 'the sweep to flag the customer');
    expect(flagged.at_risk.reasons.map((r: { code: string }) => r.code)).toEqual(['one_time_buyer_overdue']);

    const lapsedAt = new Date(T0.getTime() + 365 * DAY);
    clock.set(new Date(lapsedAt.getTime() + 3_600_000));
    await eventually(async () => ((await getCustomer(svc, 'drift')).lifecycle_stage === 'lapsed' ? true : undefined), 10_000, 'lapsed');

    const rows = await history(svc, 'drift');
    const stageChanges = rows.filter((h) => h.kind === 'lifecycle_stage').reverse();
    expect(stageChanges.map((h) => h.after)).toEqual(['new', 'at_risk', 'lapsed']);
    // Each row carries the instant the change became true, not when the sweep noticed it.
    expect(Math.abs(Date.parse(stageChanges[1]!.changed_at) - atRiskAt.getTime())).toBeLessThanOrEqual(1);
    expect(Math.abs(Date.parse(stageChanges[2]!.changed_at) - lapsedAt.getTime())).toBeLessThanOrEqual(1);
    const flags = rows.filter((h) => h.kind === 'at_risk').reverse();
    expect(flags.map((h) => h.after)).toEqual([true, false]);
  });
});

describe('the sweep touches only customers that are due', () => {
  let svc: TestService;
  const clock = manualClock(NOW);
  beforeAll(async () => {
    svc = await startService({ clock, workers: false });
  });
  afterAll(async () => svc?.close());

  it('enqueues exactly the customers whose next review has passed', async () => {
    const events = [order('due-a', 85), order('due-b', 89.5), ...Array.from({ length: 40 }, (_, i) => order(`fresh-${i}`, 1 + i / 2))];
    await post(svc, events);
    const { processIngest } = await import('../src/workers/ingest.worker.ts');
    const [ingestJob] = await svc.deps.queues.ingest.getJobs(['waiting']);
    await processIngest(svc.deps, ingestJob!);
    const ids = [...new Set(events.map((e) => e.customer_id))];
    await recomputeCustomers(svc.deps, ids);
    await svc.deps.queues.recompute.obliterate({ force: true });
    await clearDirty(svc);

    // Half a day later: due-b passes 90 days since its only order; some fresh customers cross an R breakpoint.
    clock.set(new Date(NOW.getTime() + DAY / 2 + 60_000));
    const due = await svc.deps.db.execute<{ id: string }>(sql`select id from customers where next_review_at <= ${clock.now()} order by id`);
    expect(due.rows.map((r) => r.id)).toContain('due-b');
    expect(due.rows.map((r) => r.id)).not.toContain('due-a');
    expect(due.rows.length).toBeLessThan(ids.length);

    const swept = await sweepDueReviews(svc.deps);
    expect(swept.due).toBe(due.rows.length);
    const queued = (await listDirty(svc.deps.redis, svc.config.QUEUE_PREFIX)).sort();
    expect(queued).toEqual(due.rows.map((r) => r.id));
  });
});

describe('concurrent recomputes of one customer', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ clock: manualClock(NOW), config: { INGEST_CONCURRENCY: 8, RECOMPUTE_CONCURRENCY: 8 } });
  });
  afterAll(async () => svc?.close());

  it('ends in the state one sequential recompute gives, with one history row per real change', async () => {
    // A second set of workers in the same process competes for the same queues.
    const { startWorkers } = await import('../src/workers/workers.ts');
    const extra = await startWorkers(svc.deps);
    const events = [
      ...Array.from({ length: 60 }, (_, i) => order('hot', 400 - i * 6, `${10 + i}.00`)),
      ...Array.from({ length: 10 }, (_, i) => interaction('hot', 80 - i, i % 2 ? 'complaint' : 'email_open')),
    ];
    const recomputedBefore = (await svc.deps.metrics.customersRecomputed.get()).values[0]!.value;
    await Promise.all(events.map((e) => svc.app.inject({ method: 'POST', url: '/v1/events', payload: e, headers: auth() })));
    await settle(svc, events.length);
    // Recomputes coalesce: far fewer than one per event.
    const recomputed = (await svc.deps.metrics.customersRecomputed.get()).values[0]!.value - recomputedBefore;
    expect(recomputed).toBeGreaterThan(0);
    expect(recomputed).toBeLessThan(events.length);
    await extra.close();

    const concurrent = await getCustomer(svc, 'hot');
    // A fresh sequential recompute over the same events finds nothing to change.
    const again = await recomputeCustomers(svc.deps, ['hot']);
    expect(again.history).toBe(0);
    const sequential = await getCustomer(svc, 'hot');
    expect({ ...concurrent, computed_at: null, next_review_at: null }).toEqual({ ...sequential, computed_at: null, next_review_at: null });
    expect(concurrent.metrics.order_count).toBe(60);

    const rows = (await history(svc, 'hot')).reverse();
    for (const kind of ['tier', 'lifecycle_stage', 'at_risk']) {
      const chain = rows.filter((h) => h.kind === kind);
      for (let i = 1; i < chain.length; i++) {
        expect(chain[i]!.before).toEqual(chain[i - 1]!.after);
        expect(chain[i]!.after).not.toEqual(chain[i]!.before);
      }
    }
    const sequences = rows.map((h) => h.sequence);
    expect([...sequences].sort((a, b) => a - b)).toEqual(sequences);
  });
});
