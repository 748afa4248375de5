import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, manualClock, settle, startService, type TestService } from './harness.ts';
import { planPopulation, toEvents } from './population.fixture.ts';
import { processIngest } from '../src/workers/ingest.worker.ts';
import { refreshAndRescore } from '../src/services/rescore.service.ts';
import { enqueueRecomputes } from '../src/queues/queues.ts';
import { loadRecomputeContext, recomputeCustomers, rescoreBatch } from '../src/services/recompute.service.ts';
import { refreshPopulationStatsLocked } from '../src/store/stats.repo.ts';
import { finishDirty, listDirty, markDirty, RECOMPUTE_SHARDS, shardOf, takeDirty } from '../src/queues/recompute.dirty.ts';
import { startWorkers } from '../src/workers/workers.ts';
import { upsertSegment } from '../src/store/segments.repo.ts';
import { customerWithId, writeStateRows } from '../src/store/customers.state.repo.ts';
import { savePolicy } from '../src/store/policies.repo.ts';
import { parsePolicy } from '../src/domain/policy/policy.ts';
import type { CustomerStateRow } from '../src/domain/customer/customer-state.row.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 86_400_000;
const plan = planPopulation(300, NOW, 11);
const ids = plan.map((c) => c.id);

/** Stores the population through the API and the ingest worker (no recompute yet). */
async function seed(svc: TestService, population = plan) {
  // Messages are written only for subscribed types (README, Webhooks).
  const hook = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://hooks.example/batch', events: ['*'] }, headers: auth() });
  expect(hook.statusCode, hook.body).toBe(201);
  await upsertSegment(svc.deps.db, { key: 'regulars', name: 'Regulars', rule: { field: 'order_count', op: 'gte', value: 4 } }, NOW);
  const events = toEvents(population);
  for (let i = 0; i < events.length; i += 1_000) {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events: events.slice(i, i + 1_000) }, headers: auth() });
    expect(res.statusCode, res.body).toBe(202);
  }
  for (const job of await svc.deps.queues.ingest.getJobs(['waiting'])) await processIngest(svc.deps, job);
  await refreshPopulationStatsLocked(svc.deps.db, svc.deps.clock.now());
}

/** Everything a recompute writes, without the columns that differ by construction (row ids, message ids). */
async function snapshot(svc: TestService) {
  const rows = async (query: ReturnType<typeof sql>) => (await svc.deps.db.execute(query)).rows;
  const messages = await rows(sql`select body from webhook_messages`);
  return {
    customers: await rows(sql`select id, avg_order_value::text, first_order_at, previous_order_at, orders_365d, revenue_365d::text, first_event_at,
      cadence_days, distinct_categories, top_categories, discount_order_share, interactions_90d, complaints_90d, last_interaction_at,
      satisfaction_avg, order_count, net_revenue::text, last_order_at, region, preferred_channel,
      price_sensitivity, r_score, f_score, m_score, value_score, rfm_segment, abc_class, tier, pending_tier, pending_since,
      lifecycle_stage, at_risk, at_risk_since, at_risk_reasons, next_review_at, computed_at, sequence from customers order by id`),
    history: await rows(sql`select customer_id, kind, before, after, reasons, changed_at, sequence from customer_history order by customer_id, id`),
    members: await rows(sql`select segment_key, customer_id, entered_at from segment_members order by 1, 2`),
    messages: messages
      .map((m) => {
        const { id: _id, ...rest } = JSON.parse(m.body as string);
        return JSON.stringify(rest);
      })
      .sort(),
  };
}

describe('batched recompute and full rescore', () => {
  const clock = manualClock(NOW);
  let single: TestService;
  let batched: TestService;
  beforeAll(async () => {
    [single, batched] = await Promise.all([startService({ clock, workers: false }), startService({ clock, workers: false })]);
    await Promise.all([seed(single), seed(batched)]);
  });
  afterAll(async () => {
    await single?.close();
    await batched?.close();
  });

  it('write the same state, history, membership and outbox rows as one recompute per customer', async () => {
    for (const id of ids) await recomputeCustomers(single.deps, [id]);
    // The ingest asked for every customer; the real workers drain the shards in batches.
    expect((await listDirty(batched.deps.redis, batched.config.QUEUE_PREFIX)).sort()).toEqual([...ids].sort());
    const workers = await startWorkers(batched.deps);
    await settle(batched, 0);
    await workers.close();
    expect(await listDirty(batched.deps.redis, batched.config.QUEUE_PREFIX)).toEqual([]);

    const expected = await snapshot(single);
    expect(expected.history.length).toBeGreaterThan(ids.length);
    expect(expected.members.length).toBeGreaterThan(0);
    expect(await snapshot(batched)).toEqual(expected);

    // Months later, with new statistics: customers slip to at risk and lapsed.
    clock.set(new Date(NOW.getTime() + 120 * DAY));
    await refreshPopulationStatsLocked(single.deps.db, clock.now());
    for (const id of ids) await recomputeCustomers(single.deps, [id]);
    const rescored = await refreshAndRescore(batched.deps);
    expect(rescored.customers).toBe(ids.length);

    const later = await snapshot(single);
    const stageMoves = later.history.length - expected.history.length;
    expect(stageMoves).toBeGreaterThan(0);
    expect(later.history.some((h) => h.kind === 'lifecycle_stage' && h.after === 'lapsed' && Date.parse(String(h.changed_at)) > NOW.getTime())).toBe(true);
    expect(await snapshot(batched)).toEqual(later);
  });

  it('a rescore that derives the same state writes nothing, and the API still measures recency up to now', async () => {
    // Again at the same instant: the same statistics, so the same state; no row is written, and
    // every customer is derived from its stored digest, none from its events.
    const before = await snapshot(batched);
    const derivations = async () => {
      const text = (await batched.app.inject({ method: 'GET', url: '/metrics' })).body;
      const count = (source: string) => Number(new RegExp(`^tierwise_customer_derivations_total\\{source="${source}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
      return { digest: count('digest'), events: count('events') };
    };
    const counted = await derivations();
    const rescored = await refreshAndRescore(batched.deps);
    expect(rescored).toMatchObject({ customers: ids.length, changed: 0 });
    expect(await snapshot(batched)).toEqual(before);
    expect(await derivations()).toEqual({ digest: counted.digest + ids.length, events: counted.events });

    clock.advance(3 * DAY);
    const now = clock.now();
    const buyer = plan.find((c) => c.orders.length > 0)!.id;
    const res = await batched.app.inject({ method: 'GET', url: `/v1/customers/${buyer}`, headers: auth() });
    const { metrics } = res.json() as { metrics: { last_order_at: string; first_event_at: string; recency_days: number; tenure_days: number } };
    expect(metrics.recency_days).toBe((now.getTime() - Date.parse(metrics.last_order_at)) / DAY);
    expect(metrics.tenure_days).toBe((now.getTime() - Date.parse(metrics.first_event_at)) / DAY);
  });

  it('writes a row only if it still holds the state the update was derived from', async () => {
    const db = batched.deps.db;
    const id = ids[0]!;
    const row = async () => (await db.execute<{ state_hash: string; sequence: number }>(sql`select state_hash, sequence from customers where id = ${id}`)).rows[0]!;
    const stored = await row();
    const update = { ...(await snapshot(batched)).customers.find((c) => c.id === id)!, id, sequence: stored.sequence + 7, state_hash: 'other' };
    expect(await writeStateRows(db, [{ ...(update as unknown as CustomerStateRow), previous_hash: 'not-the-stored-one' }])).toEqual(new Set());
    expect(await row()).toEqual(stored);
    expect(await writeStateRows(db, [{ ...(update as unknown as CustomerStateRow), previous_hash: stored.state_hash }])).toEqual(new Set([id]));
    expect(await row()).toEqual({ state_hash: 'other', sequence: stored.sequence + 7 });
  });

  // Each reads the row without a lock and waits for it only to write; the other writer commits first.
  it.each([
    {
      name: 'a rescore batch',
      index: 1,
      run: async (deps: TestService['deps'], id: string) => rescoreBatch(deps, customerWithId(id), await loadRecomputeContext(deps, deps.clock.now())),
      waits: '%update customers c set%',
    },
    { name: 'a recompute', index: 2, run: (deps: TestService['deps'], id: string) => recomputeCustomers(deps, [id]), waits: '%for update%' },
  ])('$name that meets a concurrent write leaves that row alone and asks for the customer again', async ({ index, run, waits }) => {
    const { deps } = batched;
    const id = ids[index]!;
    const historyRows = async () => (await deps.db.execute<{ n: number }>(sql`select count(*)::int as n from customer_history where customer_id = ${id}`)).rows[0]!.n;
    // A stored fingerprint no derivation gives, so the derivation means to write the row.
    await deps.db.execute(sql`update customers set state_hash = 'before' where id = ${id}`);
    const history = await historyRows();
    const other = await deps.pool.connect();
    try {
      await other.query('begin');
      await other.query('select id from customers where id = $1 for update', [id]);
      const derived = run(deps, id);
      await eventually(async () => {
        const { rows } = await deps.pool.query(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like $1`, [waits]);
        return rows.length > 0 ? true : undefined;
      }, 10_000, 'the write to wait for the row lock');
      await other.query(`update customers set state_hash = 'concurrent' where id = $1`, [id]);
      await other.query('commit');
      expect(await derived).toMatchObject({ customers: 1, written: 0, changed: 0, history: 0, messages: 0 });
    } finally {
      other.release();
    }
    expect((await deps.db.execute<{ state_hash: string }>(sql`select state_hash from customers where id = ${id}`)).rows[0]!.state_hash).toBe('concurrent');
    expect(await historyRows()).toBe(history);
    expect(await listDirty(deps.redis, deps.config.QUEUE_PREFIX)).toContain(id);
    // Left as the next tests expect: the customer recomputed, nobody waiting, no drain job queued.
    await recomputeCustomers(deps, [id]);
    await finishDirty(deps.redis, deps.config.QUEUE_PREFIX, shardOf(id), await takeDirty(deps.redis, deps.config.QUEUE_PREFIX, shardOf(id), 1_000));
    await deps.queues.recompute.drain();
  });

  it('keeps a customer waiting when it is asked for again while its batch is recomputed', async () => {
    const { redis, config } = batched.deps;
    const prefix = config.QUEUE_PREFIX;
    const a = 'wait-0';
    const b = Array.from({ length: 100 }, (_, i) => `wait-${i + 1}`).find((id) => shardOf(id) === shardOf(a))!;
    const shard = shardOf(a);
    await markDirty(redis, prefix, [a, b, a]);
    const batch = await takeDirty(redis, prefix, shard, 10);
    expect(batch.ids).toEqual([a, b]);
    await markDirty(redis, prefix, [a]);
    await finishDirty(redis, prefix, shard, batch);
    expect(await listDirty(redis, prefix)).toEqual([a]);
    await finishDirty(redis, prefix, shard, await takeDirty(redis, prefix, shard, 10));
    expect(await listDirty(redis, prefix)).toEqual([]);
  });

  it('marks more customers of one shard than one variadic call takes, in first-request order', async () => {
    const { redis, config } = batched.deps;
    const prefix = config.QUEUE_PREFIX;
    const ids = Array.from({ length: 12_000 }, (_, i) => `many-${i}`);
    await markDirty(redis, prefix, ids);
    const shard = shardOf(ids[0]!);
    const inShard = ids.filter((id) => shardOf(id) === shard);
    expect(inShard.length).toBeGreaterThan(1000);
    const batch = await takeDirty(redis, prefix, shard, inShard.length + 1);
    expect(batch.ids).toEqual(inShard);
    expect(new Set(batch.counts).size).toBe(inShard.length);
    for (let s = 0; s < RECOMPUTE_SHARDS; s++) await finishDirty(redis, prefix, s, await takeDirty(redis, prefix, s, ids.length));
    expect(await listDirty(redis, prefix)).toEqual([]);
  });

  it('coalesces requests for one customer into one waiting entry', async () => {
    const { redis, config } = batched.deps;
    for (let i = 0; i < 50; i++) await enqueueRecomputes(batched.deps, ['hot-1', 'hot-2']);
    expect((await listDirty(redis, config.QUEUE_PREFIX)).sort()).toEqual(['hot-1', 'hot-2']);
    expect(await batched.deps.queues.recompute.count()).toBeLessThanOrEqual(2);
  });
});

// The daily refresh derives only the customers whose judgments (scores, RFM segment, ABC class)
// change under the new statistics, found in SQL, plus those due for review. Checked against a
// twin service that derives every customer at the same instants: the same state, history,
// membership and webhook messages after every refresh, over random populations, policies and
// clocks (no prediction model in force: a fit rescores everyone).
describe.each([
  { seed: 5, policy: { preset: 'rfm-value', weights: { r: 2, f: 1, m: 0.5 } }, steps: [1, 1, 6, 30, 200] },
  { seed: 17, policy: { preset: 'pareto-abc' }, steps: [0.5, 3, 45, 90] },
  { seed: 29, policy: { preset: 'frequency', downgrade_grace_days: 7 }, steps: [2, 13, 120, 365] },
])('a daily refresh over population $seed with $policy.preset', ({ seed: populationSeed, policy, steps }) => {
  const clock = manualClock(NOW);
  const population = planPopulation(200, NOW, populationSeed);
  let everyone: TestService;
  let changedOnly: TestService;
  beforeAll(async () => {
    [everyone, changedOnly] = await Promise.all([startService({ clock, workers: false }), startService({ clock, workers: false })]);
    const parsed = parsePolicy(policy);
    if (!parsed.ok) throw new Error('bad test policy');
    for (const svc of [everyone, changedOnly]) {
      await seed(svc, population);
      await savePolicy(svc.deps.db, parsed.policy, NOW);
      await refreshAndRescore(svc.deps);
    }
  });
  afterAll(async () => {
    await everyone?.close();
    await changedOnly?.close();
  });

  it('ends in the state deriving everyone gives, deriving and writing only customers whose state changes', async () => {
    expect(await snapshot(changedOnly)).toEqual(await snapshot(everyone));
    for (const days of steps) {
      clock.advance(days * DAY);
      const all = await refreshAndRescore(everyone.deps);
      const some = await refreshAndRescore(changedOnly.deps, { changedOnly: true });
      expect(all.customers).toBe(population.length);
      expect(some.changed).toBe(all.changed);
      const written = await changedOnly.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from customers where computed_at = ${clock.now()}`);
      // Every customer derived was selected for a reason; every row written changed.
      expect(written.rows[0]!.n).toBeLessThanOrEqual(some.customers);
      expect(await snapshot(changedOnly)).toEqual(await snapshot(everyone));
    }
    // Up to five full rescores of two services: minutes, not seconds, on a loaded machine.
  }, 180_000);

  it('derives nobody when nothing changed: the same statistics at the same instant', async () => {
    const again = await refreshAndRescore(changedOnly.deps, { changedOnly: true });
    expect(again).toMatchObject({ customers: 0, changed: 0 });
  });
});
