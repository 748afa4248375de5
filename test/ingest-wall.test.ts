import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, startService, type TestService } from './harness.ts';

// The ingest wall: the door refuses at the HTTP boundary what Postgres cannot store (README "Event
// limits"), and whatever still gets past it costs only itself (dead letters), never its neighbours.

const order = (id: string, customer: string, extra: Record<string, unknown> = {}) => ({
  id, type: 'order', customer_id: customer, occurred_at: '2026-10-01T10:00:00Z', order_id: `o-${id}`, amount: '10.00', ...extra,
});

/** The customer once a recompute has written it. */
async function computedCustomer(svc: TestService, id: string): Promise<any> {
  return eventually(async () => {
    const res = await svc.app.inject({ method: 'GET', url: `/v1/customers/${id}`, headers: auth() });
    return res.statusCode === 200 && res.json().computed_at ? res.json() : undefined;
  }, 30_000, `customer ${id}`);
}

describe('the door refuses what Postgres cannot store', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => svc?.close());

  const post = (url: string, payload: unknown) =>
    svc.app.inject({ method: 'POST', url, headers: { ...auth(), 'content-type': 'application/json' }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
  const refusedAt = async (url: string, payload: unknown) => {
    const res = await post(url, payload);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    return res.json().errors.map((e: { path: string }) => e.path) as string[];
  };
  const stored = async (like: string) =>
    (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int n from events where id like ${like}`)).rows[0]!.n;

  it.each<[string, unknown, string]>([
    ['NUL in customer_id', order('door-1', 'c\u0000x'), 'customer_id'],
    ['a lone surrogate in order_id', order('door-2', 'c', { order_id: 'o\ud800' }), 'order_id'],
    ['a lone surrogate in a trait key', { id: 'door-3', type: 'customer', customer_id: 'c', occurred_at: '2026-10-01T10:00:00Z', traits: { 'a\ud800b': 1 } }, 'traits.a\ud800b'],
    ['NUL deep in properties', order('door-4', 'c', { properties: { a: [{ b: 'x\u0000' }] } }), 'properties.a[0].b'],
    ['occurred_at in year 0', order('door-5', 'c', { occurred_at: '0000-01-01T00:00:00Z' }), 'occurred_at'],
  ])('POST /v1/events: %s → 400 at its path', async (_name, event, path) => {
    expect(await refusedAt('/v1/events', event)).toContain(path);
  });

  it('POST /v1/events/batch names the event and field; a sent_at of 9999-12-31 is refused, not accepted and lost', async () => {
    const events = [order('door-b0', 'c'), order('door-b1', 'c'), order('door-b2', 'c'), order('door-b3', 'c\u0000x')];
    expect(await refusedAt('/v1/events/batch', { events })).toEqual(['events[3].customer_id']);
    const skewed = await refusedAt('/v1/events/batch', { sent_at: '9999-12-31T23:59:59Z', events: [order('door-s0', 'c')] });
    expect(skewed).toEqual(['events[0].occurred_at']);
  });

  it('refuses a JSON-number amount a double cannot hold instead of storing it altered', async () => {
    const raw = JSON.stringify(order('door-n', 'c')).replace('"amount":"10.00"', '"amount":123456789012345.1234');
    expect(raw).toContain('123456789012345.1234');
    expect(await refusedAt('/v1/events', raw)).toEqual(['amount']);
    expect(await refusedAt('/v1/events', order('door-n2', 'c', { amount: '1234567890123456' }))).toEqual(['amount']);
  });

  it('/compat/segment skips (and counts) a message with NUL in userId or a timestamp in year 0; nothing reaches Postgres', async () => {
    const malformed = async () =>
      (await svc.deps.metrics.segmentSkipped.get()).values.filter((v) => v.labels.reason === 'malformed').reduce((n, v) => n + v.value, 0);
    const before = await malformed();
    const res = await svc.app.inject({
      method: 'POST',
      url: '/compat/segment/v1/batch',
      headers: auth(),
      payload: {
        batch: [
          { type: 'track', event: 'Order Completed', messageId: 'door-seg-1', userId: 'u\u0000x', properties: { order_id: '1', total: 5 } },
          { type: 'track', event: 'Order Completed', messageId: 'door-seg-2', userId: 'u', timestamp: '0000-01-01T00:00:00Z', properties: { order_id: '2', total: 5 } },
          { type: 'identify', messageId: 'door-seg-3', userId: 'u', traits: { 'k\ud800': 'v' } },
          { type: 'track', event: 'Order Completed', messageId: 'door-seg-4', userId: 'u', properties: { order_id: '4', total: 123456789012345.1234 } },
          { type: 'track', event: 'Order Completed', messageId: 'door-seg-ok', userId: 'u', properties: { order_id: '5', total: 5 } },
        ],
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect((await malformed()) - before).toBe(4);
    await eventually(async () => ((await stored('door-seg-ok')) === 1 ? true : undefined));
    expect(await stored('door-seg-%')).toBe(1);
  });

  it('nothing refused was queued: no dead letter, and none of those events stored', async () => {
    expect((await post('/v1/events', order('door-sentinel', 'c'))).statusCode).toBe(202);
    await eventually(async () => ((await stored('door-sentinel')) === 1 ? true : undefined));
    expect(await stored('door-_')).toBe(0);
    expect(await stored('door-n%')).toBe(0);
    expect((await svc.app.inject({ method: 'GET', url: '/v1/dead-letters', headers: auth() })).json().items).toEqual([]);
  });
});

describe('money is exact end to end', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => svc?.close());

  const customer = (id: string) => computedCustomer(svc, id);

  it('the largest amount an event may carry round-trips through POST /v1/events, the worker and GET /v1/customers/{id}', async () => {
    const largest = '999999999999999.9999';
    const res = await svc.app.inject({ method: 'POST', url: '/v1/events', headers: auth(), payload: order('big-1', 'big', { amount: largest }) });
    expect(res.statusCode).toBe(202);
    const c = await customer('big');
    expect(c.metrics.net_revenue).toBe(largest);
    expect(c.metrics.avg_order_value).toBe(largest);
    expect(c.metrics.revenue_365d).toBe(largest);
    expect((await svc.app.inject({ method: 'GET', url: '/v1/events/big-1', headers: auth() })).json().amount).toBe(largest);
    const listing = await svc.app.inject({ method: 'GET', url: '/v1/customers?sort=-net_revenue&limit=1', headers: auth() });
    expect(listing.json().items[0]).toMatchObject({ id: 'big', metrics: { net_revenue: largest } });
    const column = await svc.deps.db.execute<{ v: string }>(sql`select net_revenue::text v from customers where id = 'big'`);
    expect(column.rows[0]!.v).toBe('999999999999999.9999');
  });

  it("a customer's total past 16 digits (11 orders of the largest amount) is stored exactly", async () => {
    const events = Array.from({ length: 11 }, (_, i) => order(`sum-${i}`, 'sum', { amount: '999999999999999.9999', occurred_at: `2026-10-${String(i + 1).padStart(2, '0')}T10:00:00Z` }));
    expect((await svc.app.inject({ method: 'POST', url: '/v1/events/batch', headers: auth(), payload: { events } })).statusCode).toBe(202);
    const c = await customer('sum');
    expect(c.metrics.net_revenue).toBe('10999999999999999.9989');
    const column = await svc.deps.db.execute<{ v: string }>(sql`select net_revenue::text v from customers where id = 'sum'`);
    expect(column.rows[0]!.v).toBe('10999999999999999.9989');
    const filtered = await svc.app.inject({ method: 'GET', url: '/v1/customers?min_net_revenue=10999999999999999.9989', headers: auth() });
    expect(filtered.json().items.map((i: { id: string }) => i.id)).toEqual(['sum']);
  });
});

describe('isolation: an event Postgres refuses costs only itself', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => svc?.close());

  const storedIds = async (like: string) =>
    (await svc.deps.db.execute<{ id: string }>(sql`select id from events where id like ${like} order by id`)).rows.map((r) => r.id);
  const deadLetters = async () => {
    const res = await svc.app.inject({ method: 'GET', url: '/v1/dead-letters', headers: auth() });
    expect(res.statusCode).toBe(200);
    return res.json().items as { id: string; event: Record<string, any>; error: { code: string; message: string }; failures: number }[];
  };

  it('40 good single events in one job with a poisoned one: all 40 stored, the poisoned one parked with its reason, the job done once', async () => {
    // Requests handled in one event-loop turn share one job (src/queues/ingest.batcher.ts): here
    // that job is built by the real batcher, as the API builds it, with a poisoned event the door
    // would refuse put in past it.
    const { createIngestBatcher } = await import('../src/queues/ingest.batcher.ts');
    const batcher = createIngestBatcher(svc.deps.queues.ingest);
    const now = new Date();
    const event = (id: string, customer: string) => ({
      id, type: 'order', customer_id: customer, occurred_at: '2026-10-01T10:00:00.000Z', order_id: `o-${id}`, data: { order_id: `o-${id}`, amount: '10' }, properties: null,
    });
    const adds = Array.from({ length: 40 }, (_, i) => batcher.add(now, [event(`iso-${String(i).padStart(2, '0')}`, `iso-c${i % 7}`)]));
    adds.splice(17, 0, batcher.add(now, [event('iso-poison', 'c\u0000x')]));
    await Promise.all(adds);
    const jobs = await svc.deps.queues.ingest.getJobs(['waiting', 'active', 'completed', 'failed', 'delayed']);
    expect(jobs.filter((j) => j.data.events?.some((e) => e.id === 'iso-poison'))[0]?.data.events).toHaveLength(41);

    await eventually(async () => ((await storedIds('iso-%')).length === 40 ? true : undefined), 30_000, '40 events stored');
    expect(await storedIds('iso-%')).toEqual(Array.from({ length: 40 }, (_, i) => `iso-${String(i).padStart(2, '0')}`));
    const parked = await eventually(async () => ((await deadLetters()).length === 1 ? deadLetters() : undefined));
    expect(parked[0]!.event).toMatchObject({ id: 'iso-poison', customer_id: 'c\u0000x', received_at: now.toISOString() });
    expect(parked[0]!.error.code).toBe('22021');
    expect(parked[0]!.error.message).toMatch(/invalid byte sequence.*0x00/);
    // The job completed on its first attempt: no 50 retries.
    const failed = await svc.deps.queues.ingest.getJobCounts('failed', 'delayed', 'waiting', 'active');
    expect(failed).toEqual({ failed: 0, delayed: 0, waiting: 0, active: 0 });
    expect((await svc.deps.metrics.eventsDeadLettered.get()).values[0]!.value).toBe(1);
    const metrics = await (await svc.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/^tierwise_dead_letters 1$/m);
  });

  it('several kinds of refusal in one job (year 0, an unpaired surrogate in a trait key, NUL): each parked, the rest stored and merged', async () => {
    const receivedAt = new Date().toISOString();
    const base = { occurred_at: '2026-10-02T10:00:00.000Z', order_id: null, properties: null };
    const events = [
      { ...base, id: 'kinds-ok-1', type: 'customer', customer_id: 'kinds-c', data: { traits: { email: 'a@example.com' } } },
      { ...base, id: 'kinds-year0', type: 'interaction', customer_id: 'kinds-c', occurred_at: '0000-01-01T00:00:00.000Z', data: { kind: 'chat' } },
      { ...base, id: 'kinds-surrogate', type: 'customer', customer_id: 'kinds-c', data: { traits: { 'a\ud800b': 1 } } },
      { ...base, id: 'kinds-ok-2', type: 'interaction', customer_id: 'kinds-c', data: { kind: 'chat' } },
      { ...base, id: 'kinds-nul', type: 'interaction', customer_id: 'kinds-c', data: { kind: 'chat\u0000' } },
      { ...base, id: 'kinds-ok-3', type: 'interaction', customer_id: 'kinds-c2', data: { kind: 'chat' } },
    ];
    await svc.deps.queues.ingest.add('ingest', { receivedAt, events });
    await eventually(async () => ((await storedIds('kinds-%')).length === 3 ? true : undefined), 30_000, 'the good events');
    expect(await storedIds('kinds-%')).toEqual(['kinds-ok-1', 'kinds-ok-2', 'kinds-ok-3']);
    const parked = await eventually(async () => {
      const all = (await deadLetters()).filter((d) => String(d.event.id).startsWith('kinds-'));
      return all.length === 3 ? all : undefined;
    });
    expect(Object.fromEntries(parked.map((d) => [d.event.id, d.error.code]))).toEqual({ 'kinds-year0': '22008', 'kinds-surrogate': '22P02', 'kinds-nul': '22P05' });
    const c = await computedCustomer(svc, 'kinds-c');
    expect(c.traits).toEqual({ email: 'a@example.com' });
  });

  it('replay: refused again it stays (422, failures counted); after the fix it is stored once and leaves the list', async () => {
    // A refusal an operator can fix: a check constraint, dropped before the replay.
    await svc.deps.db.execute(sql`alter table events add constraint no_vip_test check (customer_id <> 'fix-me')`);
    await svc.deps.queues.ingest.add('ingest', {
      receivedAt: new Date().toISOString(),
      events: [
        { id: 'fix-1', type: 'order', customer_id: 'fix-me', occurred_at: '2026-10-03T10:00:00.000Z', order_id: 'o-fix-1', data: { order_id: 'o-fix-1', amount: '12.3456' }, properties: null },
        { id: 'fix-2', type: 'order', customer_id: 'fix-ok', occurred_at: '2026-10-03T10:00:00.000Z', order_id: 'o-fix-2', data: { order_id: 'o-fix-2', amount: '1' }, properties: null },
      ],
    });
    const letter = await eventually(async () => (await deadLetters()).find((d) => d.event.id === 'fix-1'));
    expect(letter.error.code).toBe('23514');
    // The refused half is parked before the other half is stored, each in a transaction of its own.
    expect(await eventually(async () => ((await storedIds('fix-%')).length > 0 ? storedIds('fix-%') : undefined))).toEqual(['fix-2']);

    const again = await svc.app.inject({ method: 'POST', url: `/v1/dead-letters/${letter.id}/replay`, headers: auth() });
    expect(again.statusCode).toBe(422);
    expect(again.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect((await deadLetters()).find((d) => d.id === letter.id)?.failures).toBe(2);

    await svc.deps.db.execute(sql`alter table events drop constraint no_vip_test`);
    const replayed = await svc.app.inject({ method: 'POST', url: `/v1/dead-letters/${letter.id}/replay`, headers: auth() });
    expect(replayed.statusCode, replayed.body).toBe(200);
    expect(replayed.json()).toEqual({ id: letter.id, outcome: 'stored' });
    expect((await deadLetters()).find((d) => d.id === letter.id)).toBeUndefined();
    expect((await svc.app.inject({ method: 'GET', url: '/v1/events/fix-1', headers: auth() })).json()).toMatchObject({ amount: '12.3456', customer_id: 'fix-me' });
    const c = await computedCustomer(svc, 'fix-me');
    expect(c.metrics.net_revenue).toBe('12.3456');
    expect((await svc.app.inject({ method: 'POST', url: `/v1/dead-letters/${letter.id}/replay`, headers: auth() })).statusCode).toBe(404);
  });

  it('lists page by page, refuses a forged cursor and a bad id with 400, and is admin only', async () => {
    const all = await deadLetters();
    expect(all.length).toBeGreaterThanOrEqual(4);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const url: string = `/v1/dead-letters?limit=2${cursor ? `&cursor=${cursor}` : ''}`;
      const page = (await svc.app.inject({ method: 'GET', url, headers: auth() })).json();
      seen.push(...page.items.map((d: { id: string }) => d.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toEqual(all.map((d) => d.id));
    expect((await svc.app.inject({ method: 'GET', url: '/v1/dead-letters?cursor=abc', headers: auth() })).statusCode).toBe(400);
    expect((await svc.app.inject({ method: 'POST', url: '/v1/dead-letters/x%00/replay', headers: auth() })).statusCode).toBe(400);
    const key = (await svc.app.inject({ method: 'POST', url: '/v1/api-keys', headers: auth(), payload: { name: 'w', scopes: ['events:write', 'customers:read'] } })).json().key;
    expect((await svc.app.inject({ method: 'GET', url: '/v1/dead-letters', headers: auth(key) })).statusCode).toBe(403);
  });

  it('replay-all stores what Postgres now accepts and counts what it still refuses', async () => {
    const before = (await deadLetters()).length;
    const res = await svc.app.inject({ method: 'POST', url: '/v1/dead-letters/replay', headers: auth() });
    expect(res.statusCode).toBe(200);
    // Everything left is refused by Postgres itself (NUL, unpaired surrogates, year 0): no fix makes those storable.
    expect(res.json()).toEqual({ stored: 0, duplicate: 0, refused: before });
    expect((await deadLetters()).every((d) => d.failures >= 2)).toBe(true);
  });
});

describe('a data error is told apart from a failure that may pass', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ workers: false });
  });
  afterAll(async () => svc?.close());

  it('classifies real Postgres errors, and never carries the query parameters into the message', async () => {
    const { dbFailureOf, isDataError, createPool, createDb } = await import('../src/store/db.ts');
    const secret = 'payload-that-must-not-be-logged';
    const refused = await svc.deps.db.execute(sql`select ${JSON.stringify({ secret, bad: '\u0000' })}::jsonb`).catch((e: unknown) => e);
    expect(isDataError(refused)).toBe(true);
    expect(dbFailureOf(refused).code).toBe('22P05');
    expect(String(refused)).toContain(secret); // drizzle's own error holds the parameters…
    expect(JSON.stringify(dbFailureOf(refused))).not.toContain(secret); // …what we log does not.

    // A server that is not there: retry, never dead-letter.
    const pool = createPool('postgres://postgres@127.0.0.1:1/none', 1);
    const unreachable = await createDb(pool).execute(sql`select ${secret}`).catch((e: unknown) => e);
    await pool.end();
    expect(isDataError(unreachable)).toBe(false);
    expect(JSON.stringify(dbFailureOf(unreachable))).not.toContain(secret);

    // A statement cancelled mid-way (as in a failover or a timeout) is not a data error either.
    const cancelled = await svc.deps.db.transaction(async (tx) => {
      await tx.execute(sql`set local statement_timeout = 10`);
      return tx.execute(sql`select pg_sleep(1)`);
    }).catch((e: unknown) => e);
    expect(dbFailureOf(cancelled).code).toBe('57014');
    expect(isDataError(cancelled)).toBe(false);
  });
});
