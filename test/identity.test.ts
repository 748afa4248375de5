import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, startService, type TestService } from './harness.ts';

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

describe('alias events: one customer, one profile', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
    // Messages are written only for subscribed types (README, Webhooks).
    const hook = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://hooks.example/identity', events: ['*'] }, headers: auth() });
    expect(hook.statusCode, hook.body).toBe(201);
  });
  afterAll(async () => {
    await svc?.close();
  });

  const post = async (events: object[]) => {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() });
    expect(res.statusCode, res.body).toBe(202);
  };
  const get = (id: string) => svc.app.inject({ method: 'GET', url: `/v1/customers/${encodeURIComponent(id)}`, headers: auth() });
  const order = (id: string, customer: string, orderId: string, amount: string, days: number) => ({
    id, type: 'order', customer_id: customer, order_id: orderId, amount, occurred_at: ago(days),
  });
  const alias = (id: string, customer: string, previous: string, days = 0) => ({ id, type: 'alias', customer_id: customer, previous_id: previous, occurred_at: ago(days) });
  /** The customer once its metrics show `orders` orders. */
  const customerWith = (id: string, orders: number) =>
    eventually<Record<string, any>>(async () => {
      const res = await get(id);
      return res.statusCode === 200 && res.json().metrics?.order_count === orders ? res.json() : undefined;
    }, 60_000, `${id} with ${orders} orders`);
  const merges = async (eventId: string) =>
    (await svc.deps.db.execute<{ outcome: string; reason: string | null }>(sql`select outcome, reason from customer_merges where event_id = ${eventId}`)).rows[0];

  it('merges the union of both histories, an order under both ids once, and answers 308 for the merged id', async () => {
    await post([
      order('g1', 'guest-1', 'o-1', '30.00', 20),
      order('g2', 'guest-1', 'o-shared', '50.00', 10),
      order('k1', 'known-1', 'o-shared', '50.00', 10),
      order('k2', 'known-1', 'o-3', '20.00', 5),
    ]);
    await customerWith('known-1', 2);
    await customerWith('guest-1', 2);
    await post([alias('a1', 'known-1', 'guest-1', 1)]);
    const merged = await customerWith('known-1', 3);
    expect(merged.metrics.net_revenue).toBe('100.00');
    expect(merged.merged_ids).toEqual(['guest-1']);
    const redirect = await get('guest-1');
    expect(redirect.statusCode).toBe(308);
    expect(redirect.headers.location).toBe('/v1/customers/known-1');
    const listed = (await svc.app.inject({ method: 'GET', url: '/v1/customers?limit=1000', headers: auth() })).json();
    expect(listed.items.map((c: { id: string }) => c.id)).not.toContain('guest-1');

    const history = (await svc.app.inject({ method: 'GET', url: '/v1/customers/known-1/history', headers: auth() })).json();
    expect(history.items.find((h: { kind: string }) => h.kind === 'merged')).toMatchObject({ after: { merged_ids: ['guest-1'], event_id: 'a1' } });
    const outbox = await svc.deps.db.execute<{ body: string }>(sql`select body from webhook_messages where type = 'customer.merged'`);
    expect(outbox.rows.map((r) => JSON.parse(r.body).data)).toContainEqual(
      expect.objectContaining({ customer_id: 'known-1', merged_ids: ['guest-1'], merged_at: expect.any(String), event_id: 'a1' }),
    );

    // Idempotent by event id: the same alias again changes nothing.
    await post([alias('a1', 'known-1', 'guest-1', 1)]);
    await eventually(async () => ((await svc.deps.queues.ingest.getJobCounts('waiting', 'active')).waiting === 0 ? true : undefined));
    expect((await svc.deps.db.execute(sql`select 1 from customer_merges`)).rows).toHaveLength(1);
  });

  it('routes a late event for a merged id to the survivor, and no state or webhook is written for the merged id', async () => {
    await post([order('l1', 'late-known', 'lo-1', '10.00', 30), order('l2', 'late-anon', 'lo-2', '10.00', 29)]);
    await customerWith('late-known', 1);
    await customerWith('late-anon', 1);
    await post([alias('la', 'late-known', 'late-anon')]);
    await customerWith('late-known', 2);
    const aboutAnon = async () =>
      (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from webhook_messages where (body::jsonb -> 'data' ->> 'customer_id') = 'late-anon'`)).rows[0]!.n;
    const beforeLate = await aboutAnon();
    await post([order('l3', 'late-anon', 'lo-3', '15.00', 28)]);
    const survivor = await customerWith('late-known', 3);
    expect(survivor.metrics.net_revenue).toBe('35.00');
    const stray = await svc.deps.db.execute(sql`select 1 from events where customer_id = 'late-anon'`);
    expect(stray.rows).toHaveLength(0);
    expect((await get('late-anon')).statusCode).toBe(308);
    expect(await aboutAnon()).toBe(beforeLate);
  });

  it('resolves chains a → b → c, and refuses a self-merge and a cycle with a reason', async () => {
    await post([order('c1', 'chain-a', 'co-1', '1.00', 3), order('c2', 'chain-b', 'co-2', '2.00', 2), order('c3', 'chain-c', 'co-3', '4.00', 1)]);
    await customerWith('chain-c', 1);
    await post([alias('ab', 'chain-b', 'chain-a')]);
    await customerWith('chain-b', 2);
    await post([alias('bc', 'chain-c', 'chain-b')]);
    const c = await customerWith('chain-c', 3);
    expect(c.merged_ids).toEqual(['chain-a', 'chain-b']);
    expect((await get('chain-a')).headers.location).toBe('/v1/customers/chain-c');

    await post([alias('self', 'chain-c', 'chain-c'), alias('cycle', 'chain-a', 'chain-c')]);
    await eventually(async () => ((await merges('cycle')) ? true : undefined), 30_000, 'the cycle recorded');
    expect(await merges('self')).toEqual({ outcome: 'refused', reason: 'self_merge' });
    expect(await merges('cycle')).toEqual({ outcome: 'refused', reason: 'cycle' });
    const history = (await svc.app.inject({ method: 'GET', url: '/v1/customers/chain-c/history', headers: auth() })).json();
    expect(history.items.find((h: { kind: string }) => h.kind === 'merge_refused')).toMatchObject({ after: { previous_id: 'chain-c', reason: 'self_merge' } });
    // Nothing moved: chain-c keeps its three orders and both merged ids.
    expect((await customerWith('chain-c', 3)).merged_ids).toEqual(['chain-a', 'chain-b']);
  });

  it('erasing a survivor erases every merged identity', async () => {
    await post([order('e1', 'erase-a', 'eo-1', '5.00', 3), order('e2', 'erase-b', 'eo-2', '6.00', 2)]);
    await customerWith('erase-b', 1);
    await customerWith('erase-a', 1);
    await post([alias('ea', 'erase-b', 'erase-a')]);
    await customerWith('erase-b', 2);
    // DELETE on the merged id points at the survivor: the profile is the survivor's now.
    const viaMerged = await svc.app.inject({ method: 'DELETE', url: '/v1/customers/erase-a', headers: auth() });
    expect(viaMerged.statusCode).toBe(308);
    expect((await svc.app.inject({ method: 'DELETE', url: '/v1/customers/erase-b', headers: auth() })).statusCode).toBe(204);
    for (const id of ['erase-a', 'erase-b']) {
      expect((await get(id)).statusCode).toBe(404);
      const left = await svc.deps.db.execute(sql`
        select 1 from events where customer_id = ${id}
        union all select 1 from customer_aliases where merged_id = ${id} or survivor_id = ${id}
        union all select 1 from customer_merges where customer_id = ${id} or previous_id = ${id}
        union all select 1 from customer_history where customer_id = ${id}`);
      expect(left.rows).toHaveLength(0);
    }
  });
});
