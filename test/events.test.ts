import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, startService, type TestService } from './harness.ts';

const at = (iso: string) => new Date(iso).toISOString();

function order(id: string, customer: string, extra: Record<string, unknown> = {}) {
  return { id, type: 'order', customer_id: customer, occurred_at: '2026-10-01T10:00:00Z', order_id: `o-${id}`, amount: '10.00', ...extra };
}

describe('event ingestion over HTTP', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => svc?.close());

  const post = (url: string, payload: unknown, headers: Record<string, string> = auth()) =>
    svc.app.inject({ method: 'POST', url, payload: payload as object, headers });
  const getEvent = (id: string) => svc.app.inject({ method: 'GET', url: `/v1/events/${id}`, headers: auth() });
  const storedCount = async (like: string) =>
    (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int n from events where id like ${like}`)).rows[0]!.n;
  const waitStored = (id: string) =>
    eventually(async () => ((await getEvent(id)).statusCode === 200 ? true : undefined), 15_000, `event ${id}`);

  it('stores a batch of every event type and merges traits', async () => {
    const res = await post('/v1/events/batch', {
      events: [
        order('b1-1', 'b1-c1', { amount: 120.5, discount_amount: '5', channel: 'online', region: 'EU', items: [{ sku: 's', category: 'shoes', quantity: 1, unit_price: '120.50' }] }),
        { id: 'b1-2', type: 'refund', customer_id: 'b1-c1', occurred_at: '2026-10-02T10:00:00Z', order_id: 'o-b1-1', amount: '20' },
        { id: 'b1-3', type: 'order_cancelled', customer_id: 'b1-c2', occurred_at: '2026-10-02T10:00:00Z', order_id: 'x' },
        { id: 'b1-4', type: 'interaction', customer_id: 'b1-c1', occurred_at: '2026-10-03T10:00:00+02:00', kind: 'complaint', satisfaction: 2 },
        { id: 'b1-5', type: 'customer', customer_id: 'b1-c1', occurred_at: '2026-10-04T10:00:00Z', traits: { email: 'new@example.com', tier_hint: 1 } },
        { id: 'b1-6', type: 'customer', customer_id: 'b1-c1', occurred_at: '2026-09-04T10:00:00Z', traits: { email: 'old@example.com', name: 'Ada' } },
      ],
    });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ accepted: 6 });
    for (const id of ['b1-1', 'b1-2', 'b1-3', 'b1-4', 'b1-5', 'b1-6']) await waitStored(id);

    const stored = (await getEvent('b1-1')).json();
    expect(stored).toMatchObject({ id: 'b1-1', type: 'order', customer_id: 'b1-c1', amount: '120.5', discount_amount: '5', order_id: 'o-b1-1' });
    expect((await getEvent('b1-4')).json().occurred_at).toBe(at('2026-10-03T08:00:00Z'));

    const customer = await svc.app.inject({ method: 'GET', url: '/v1/customers/b1-c1', headers: auth() });
    expect(customer.statusCode).toBe(200);
    // The later occurred_at wins per key, whatever the arrival order.
    expect(customer.json().traits).toEqual({ email: 'new@example.com', name: 'Ada', tier_hint: 1 });
    expect((await svc.app.inject({ method: 'GET', url: '/v1/customers/b1-c2', headers: auth() })).statusCode).toBe(200);
  });

  it('ignores a resent event id and a second order with a stored order id, forever', async () => {
    expect((await post('/v1/events', order('d-1', 'd-c', { amount: '10' }))).statusCode).toBe(202);
    await waitStored('d-1');
    const duplicates = async () => (await svc.deps.metrics.eventsDuplicate.get()).values[0]!.value;
    const before = await duplicates();
    expect((await post('/v1/events', order('d-1', 'd-c', { amount: '99' }))).statusCode).toBe(202);
    expect((await post('/v1/events', order('d-2', 'd-c', { order_id: 'o-d-1', amount: '55' }))).statusCode).toBe(202);
    expect((await post('/v1/events', order('d-3', 'd-c'))).statusCode).toBe(202);
    await waitStored('d-3');
    await eventually(async () => ((await duplicates()) - before >= 2 ? true : undefined));
    expect((await getEvent('d-1')).json().amount).toBe('10');
    expect((await getEvent('d-2')).statusCode).toBe(404);
    expect(await storedCount('d-%')).toBe(2);
  });

  it('refuses a batch with one bad event, listing every problem by path, and stores none of it', async () => {
    const events: Record<string, unknown>[] = [order('bad-0', 'bad-c'), order('bad-1', 'bad-c'), order('bad-2', 'bad-c'), order('bad-3', 'bad-c', { amount: '-5' })];
    events[1] = { ...events[1]!, currency: 'EUR' };
    const res = await post('/v1/events/batch', { events });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const paths = res.json().errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['events[3].amount', 'events[1].currency']));
    // A later good event is stored; the refused batch's valid events never are.
    await post('/v1/events', order('bad-sentinel', 'bad-c'));
    await waitStored('bad-sentinel');
    expect(await storedCount('bad-_')).toBe(0);
  });

  it.each([
    ['unknown type', { ...order('v-1', 'v'), type: 'purchase' }, 'type'],
    ['currency other than CURRENCY', order('v-2', 'v', { currency: 'EUR' }), 'currency'],
    ['more than 4 decimals', order('v-3', 'v', { amount: '1.00001' }), 'amount'],
    ['timestamp without offset', order('v-4', 'v', { occurred_at: '2026-10-01T10:00:00' }), 'occurred_at'],
    ['future timestamp', order('v-5', 'v', { occurred_at: new Date(Date.now() + 6 * 60_000).toISOString() }), 'occurred_at'],
    ['refund of zero', { id: 'v-6', type: 'refund', customer_id: 'v', occurred_at: '2026-10-01T10:00:00Z', order_id: 'o', amount: 0 }, 'amount'],
    ['satisfaction out of range', { id: 'v-7', type: 'interaction', customer_id: 'v', occurred_at: '2026-10-01T10:00:00Z', kind: 'survey', satisfaction: 6 }, 'satisfaction'],
    ['unknown field', order('v-8', 'v', { amout: 3 }), ''],
    ['oversized properties', order('v-9', 'v', { properties: { blob: 'x'.repeat(9000) } }), 'properties'],
  ])('400 for %s, naming the field', async (_name, event, path) => {
    const res = await post('/v1/events', event);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ status: 400, title: 'Bad Request' });
    expect(res.json().errors.map((e: { path: string }) => e.path)).toContain(path);
  });

  it('allows five minutes of clock drift and corrects skew with sent_at', async () => {
    const soon = new Date(Date.now() + 4 * 60_000).toISOString();
    expect((await post('/v1/events', order('s-1', 's', { occurred_at: soon }))).statusCode).toBe(202);
    // The sender's clock runs two hours fast: its "future" instants are really in the past.
    const sentAt = new Date(Date.now() + 2 * 3_600_000);
    const occurred = new Date(sentAt.getTime() - 60_000);
    const res = await post('/v1/events/batch', { sent_at: sentAt.toISOString(), events: [order('s-2', 's', { occurred_at: occurred.toISOString() })] });
    expect(res.statusCode).toBe(202);
    await waitStored('s-2');
    const stored = new Date((await getEvent('s-2')).json().occurred_at).getTime();
    expect(Math.abs(stored - (Date.now() - 60_000))).toBeLessThan(30_000);
  });

  it('answers malformed JSON, wrong content type and oversized bodies with problem+json', async () => {
    const bad = await svc.app.inject({ method: 'POST', url: '/v1/events', payload: '{"id": ', headers: { ...auth(), 'content-type': 'application/json' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().type).toMatch(/malformed_json$/);
    const text = await svc.app.inject({ method: 'POST', url: '/v1/events', payload: 'id=1', headers: { ...auth(), 'content-type': 'text/plain' } });
    expect(text.statusCode).toBe(415);
    expect(text.headers['content-type']).toMatch(/^application\/problem\+json/);
    const big = await post('/v1/events/batch', { events: [order('big', 'big', { properties: { pad: 'x'.repeat(1_100_000) } })] });
    expect(big.statusCode).toBe(413);
    const many = await post('/v1/events/batch', { events: Array.from({ length: 1001 }, (_, i) => order(`m-${i}`, 'm')) });
    expect(many.statusCode).toBe(413);
    expect(many.json().detail).toMatch(/at most 1000 events/);
    const none = await post('/v1/events/batch', { events: [] });
    expect(none.statusCode).toBe(400);
  });

  it('requires a key with the right scope; keys are created once, hashed, and revocable', async () => {
    expect((await post('/v1/events', order('k-1', 'k'), {})).statusCode).toBe(401);
    expect((await post('/v1/events', order('k-1', 'k'), auth('nope'))).statusCode).toBe(401);
    const created = await post('/v1/api-keys', { name: 'reader', scopes: ['customers:read'] });
    expect(created.statusCode).toBe(201);
    const reader = created.json();
    expect(reader.key).toMatch(/^tw_/);
    const stored = await svc.deps.db.execute<{ key_hash: string }>(sql`select key_hash from api_keys where id = ${reader.id}`);
    expect(stored.rows[0]!.key_hash).not.toContain(reader.key);
    expect((await post('/v1/events', order('k-1', 'k'), auth(reader.key))).statusCode).toBe(403);
    expect((await post('/v1/api-keys', { name: 'x', scopes: ['admin'] }, auth(reader.key))).statusCode).toBe(403);
    expect((await svc.app.inject({ method: 'GET', url: '/v1/customers/nobody', headers: auth(reader.key) })).statusCode).toBe(404);

    const writer = (await post('/v1/api-keys', { name: 'shop', scopes: ['events:write'] })).json();
    expect((await post('/v1/events', order('k-2', 'k'), auth(writer.key))).statusCode).toBe(202);
    const revoked = await svc.app.inject({ method: 'DELETE', url: `/v1/api-keys/${writer.id}`, headers: auth() });
    expect(revoked.statusCode).toBe(204);
    expect((await post('/v1/events', order('k-3', 'k'), auth(writer.key))).statusCode).toBe(401);
    expect((await post('/v1/api-keys', { name: 'x', scopes: ['superuser'] })).json().errors[0].path).toBe('scopes[0]');
  });

  it('serves health, readiness, metrics and the OpenAPI document', async () => {
    expect((await svc.app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    expect((await svc.app.inject('/readyz')).json()).toMatchObject({ status: 'ready' });
    const metrics = (await svc.app.inject('/metrics')).body;
    expect(metrics).toMatch(/tierwise_events_accepted_total \d+/);
    expect(metrics).toMatch(/tierwise_queue_jobs\{queue="ingest",state="waiting"\}/);
    const doc = (await svc.app.inject('/openapi.json')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/v1/events/batch'].post.operationId).toBe('postEventBatch');
    expect((await svc.app.inject('/nowhere')).headers['content-type']).toMatch(/problem\+json/);
    const docs = await svc.app.inject('/docs/');
    expect(docs.statusCode).toBe(200);
    expect(docs.body).toContain('swagger');
  });
});

describe('back-pressure and rate limits', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ workers: false, config: { INGEST_MAX_WAITING: 2, RATE_LIMIT_MAX: 5, RATE_LIMIT_WINDOW_MS: 60_000 } });
  });
  afterAll(async () => svc?.close());

  it('answers 503 with Retry-After once the ingest backlog passes its bound, then 429 past the rate limit', async () => {
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 5; i++) {
      const res = await svc.app.inject({ method: 'POST', url: '/v1/events', payload: order(`bp-${i}`, 'bp'), headers: auth() });
      statuses.push(res.statusCode);
      if (res.statusCode === 503) retryAfter = res.headers['retry-after'] as string;
    }
    expect(statuses).toEqual([202, 202, 202, 503, 503]);
    expect(Number(retryAfter)).toBeGreaterThan(0);
    const limited = await svc.app.inject({ method: 'POST', url: '/v1/events', payload: order('bp-x', 'bp'), headers: auth() });
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited.json().status).toBe(429);
  });
});
