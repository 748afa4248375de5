import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, startService, type TestService } from './harness.ts';
import { mulberry32 } from './seeded-random.ts';

// Property: for random event streams with random merges, sent in random arrival order (in random
// batches, stored by concurrent ingest jobs), every survivor's state equals the state derived from
// the same events sent under their final ids from the start (docs/architecture.md, Identity).

const DAY = 86_400_000;
type Event = Record<string, unknown> & { id: string; type: string; customer_id: string };

function generate(seed: number) {
  const random = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const ids = Array.from({ length: 8 }, (_, k) => (random() < 0.4 ? `anon:p${seed}-c${k}` : `p${seed}-c${k}`));
  const at = () => new Date(Date.now() - Math.floor(random() * 400 * DAY)).toISOString();
  const events: Event[] = [];
  const orders: { orderId: string; amount: string; occurredAt: string }[] = [];
  for (let i = 0; i < 40; i++) {
    const customer = pick(ids);
    const id = `r${seed}-e${i}`;
    const roll = random();
    if (roll < 0.4 || orders.length === 0) {
      const order = { orderId: `o${seed}-${i}`, amount: `${1 + Math.floor(random() * 200)}.${String(Math.floor(random() * 100)).padStart(2, '0')}`, occurredAt: at() };
      orders.push(order);
      events.push({ id, type: 'order', customer_id: customer, order_id: order.orderId, amount: order.amount, occurred_at: order.occurredAt });
    } else if (roll < 0.5) {
      // The same order sent again under another id (a guest checkout seen by two sources).
      const order = pick(orders);
      events.push({ id, type: 'order', customer_id: customer, order_id: order.orderId, amount: order.amount, occurred_at: order.occurredAt });
    } else if (roll < 0.6) {
      const order = pick(orders);
      events.push({ id, type: 'refund', customer_id: customer, order_id: order.orderId, ...(random() < 0.3 ? { whole_order: true } : { amount: '1.00' }), occurred_at: at() });
    } else if (roll < 0.65) {
      events.push({ id, type: 'order_cancelled', customer_id: customer, order_id: pick(orders).orderId, occurred_at: at() });
    } else if (roll < 0.85) {
      events.push({ id, type: 'interaction', customer_id: customer, kind: pick(['site_visit', 'complaint', 'survey'] as const), satisfaction: 1 + Math.floor(random() * 5), occurred_at: at() });
    } else {
      events.push({ id, type: 'customer', customer_id: customer, traits: { [pick(['name', 'city', 'plan'])]: `v${Math.floor(random() * 5)}` }, occurred_at: at() });
    }
  }
  // Random merges, self-merges and cycles included; some arrive before, some after the events they merge.
  for (let m = 0; m < 7; m++) {
    events.push({ id: `r${seed}-a${m}`, type: 'alias', customer_id: pick(ids), previous_id: pick(ids), occurred_at: at() });
  }
  for (let i = events.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  const batches: Event[][] = [];
  for (let i = 0; i < events.length; ) {
    const size = 1 + Math.floor(random() * 8);
    batches.push(events.slice(i, i + size));
    i += size;
  }
  return { ids, events, batches };
}

describe('merges: property over random streams', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => svc?.close());

  const post = async (events: object[]) => {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() });
    expect(res.statusCode, res.body).toBe(202);
  };
  const state = async (id: string) => {
    const res = await svc.app.inject({ method: 'GET', url: `/v1/customers/${encodeURIComponent(id)}`, headers: auth() });
    if (res.statusCode !== 200) return { status: res.statusCode };
    const { recency_days: _r, tenure_days: _t, ...metrics } = res.json().metrics ?? {};
    const c = res.json();
    return { status: 200, traits: c.traits, metrics, scores: c.scores, tier: c.tier, lifecycle_stage: c.lifecycle_stage, at_risk: c.at_risk };
  };

  it.each([11, 29, 47, 83])('seed %i: survivors equal the same events sent under their final ids', async (seed) => {
    const { ids, events, batches } = generate(seed);
    for (const batch of batches) await post(batch);
    const aliases = events.filter((e) => e.type === 'alias').length;
    await eventually(async () => {
      const recorded = (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int n from customer_merges where event_id like ${`r${seed}-a%`}`)).rows[0]!.n;
      return recorded === aliases ? true : undefined;
    }, 60_000, 'every alias recorded').catch(async (err: Error) => {
      // Why a job did not get through, for the failure message.
      const retried = await svc.deps.queues.ingest.getJobs(['delayed', 'failed', 'active', 'waiting']);
      throw new Error(`${err.message}; ingest jobs not done: ${JSON.stringify(retried.map((j) => ({ attempts: j.attemptsMade, reason: j.failedReason?.slice(0, 300) })))}`);
    });

    // The final ids, as the merges left them; every survivor is itself unmerged.
    const rows = await svc.deps.db.execute<{ merged_id: string; survivor_id: string }>(sql`
      select merged_id, survivor_id from customer_aliases where merged_id = any(${sql.param(ids)}::text[])`);
    const finalOf = new Map(rows.rows.map((r) => [r.merged_id, r.survivor_id]));
    expect(finalOf.size, 'the stream merged something').toBeGreaterThan(0);
    for (const survivor of finalOf.values()) expect(finalOf.has(survivor)).toBe(false);
    const final = (id: string) => finalOf.get(id) ?? id;

    // The reference: the same events (no aliases), each under its final id, in one batch.
    const reference = events
      .filter((e) => e.type !== 'alias')
      .map((e) => ({ ...e, id: `ref-${e.id}`, customer_id: `ref-${final(e.customer_id)}` }));
    await post(reference);

    const survivors = [...new Set(events.filter((e) => e.type !== 'alias').map((e) => final(e.customer_id)))].sort();
    expect(survivors.length).toBeGreaterThan(0);
    const compare = async () => Promise.all(survivors.map(async (s) => ({ id: s, merged: await state(s), reference: await state(`ref-${s}`) })));
    const settled = await eventually(async () => {
      const pairs = await compare();
      return pairs.every((p) => JSON.stringify(p.merged) === JSON.stringify(p.reference) && p.merged.status === 200) ? pairs : undefined;
    }, 60_000, 'survivors to equal their references').catch(async () => compare());
    for (const pair of settled) expect(pair.merged, pair.id).toEqual(pair.reference);

    // Every merged id answers 308 to its survivor, and no events are left under one.
    for (const [merged, survivor] of finalOf) {
      const res = await svc.app.inject({ method: 'GET', url: `/v1/customers/${encodeURIComponent(merged)}`, headers: auth() });
      expect([res.statusCode, res.headers.location]).toEqual([308, `/v1/customers/${encodeURIComponent(survivor)}`]);
    }
    const stray = await svc.deps.db.execute(sql`select 1 from events where customer_id = any(${sql.param([...finalOf.keys()])}::text[])`);
    expect(stray.rows).toHaveLength(0);
  });
});
