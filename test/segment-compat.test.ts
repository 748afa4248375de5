import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { refreshPopulationStats } from '../src/store/stats.repo.ts';
import { auth, eventually, settle, startService, type TestService } from './harness.ts';

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

async function createKey(svc: TestService, scopes: string[]): Promise<string> {
  const res = await svc.app.inject({ method: 'POST', url: '/v1/api-keys', headers: auth(), payload: { name: `segment ${scopes}`, scopes } });
  expect(res.statusCode).toBe(201);
  return res.json().key;
}

const basic = (key: string, password = '') => `Basic ${Buffer.from(`${key}:${password}`).toString('base64')}`;

describe('Segment/RudderStack-compatible source, driven by the real SDKs', () => {
  let svc: TestService;
  let base: string;
  let writeKey: string;
  const customer = async (id: string) => {
    const res = await svc.app.inject({ method: 'GET', url: `/v1/customers/${id}`, headers: auth() });
    expect(res.statusCode, id).toBe(200);
    return res.json();
  };
  const counter = async (name: 'segmentReceived' | 'segmentSkipped' | 'eventsDuplicate', labels: Record<string, string> = {}) =>
    (await svc.deps.metrics[name].get()).values
      .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
      .reduce((sum, v) => sum + v.value, 0);
  const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
    fetch(`${base}/compat/segment${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  const rescore = async () => {
    const started = await svc.app.inject({ method: 'POST', url: '/v1/rescore', headers: auth() });
    expect(started.statusCode).toBe(202);
    await eventually(async () => {
      const job = (await svc.app.inject({ method: 'GET', url: `/v1/jobs/${started.json().job_id}`, headers: auth() })).json();
      return job.status === 'completed' ? true : undefined;
    }, 30_000, 'the rescore job');
  };

  beforeAll(async () => {
    svc = await startService();
    base = await svc.app.listen({ host: '127.0.0.1', port: 0 });
    writeKey = await createKey(svc, ['events:write']);
  });
  afterAll(async () => svc?.close());

  it('maps identify, orders, refunds, cancellations and tracks from both SDKs into customers', async () => {
    const segment = new SegmentAnalytics({ writeKey, host: base, path: '/compat/segment/v1/batch', flushAt: 50, flushInterval: 60_000, maxRetries: 0 });
    const statuses: number[] = [];
    segment.on('http_response', (r) => statuses.push(r.status));
    const sdkErrors: unknown[] = [];
    segment.on('error', (e) => sdkErrors.push(e));

    segment.identify({ userId: 'seg-1', messageId: 'seg-1-id', traits: { email: 'ada@example.com', firstName: 'Ada', lastName: 'L', address: { city: 'Lyon', country: 'FR' }, plan: 'gold' } });
    segment.track({ userId: 'seg-1', event: 'Order Completed', messageId: 'seg-1-o1', timestamp: ago(40), properties: { order_id: 'o1', total: 100, revenue: 90, currency: 'USD', products: [{ product_id: 'p1', category: 'shoes', price: 100, quantity: 1 }] } });
    segment.track({ userId: 'seg-1', event: 'Order Completed', messageId: 'seg-1-o2', timestamp: ago(10), properties: { order_id: 'o2', total: 50.5, discount: 5, coupon: 'TEN', channel: 'web', products: [{ sku: 's2', category: 'bags', price: 50.5, quantity: 1 }] } });
    segment.track({ userId: 'seg-1', event: 'Order Refunded', messageId: 'seg-1-r2', timestamp: ago(9), properties: { order_id: 'o2', total: 20 } });
    segment.track({ userId: 'seg-1', event: 'Email Opened', messageId: 'seg-1-e1', timestamp: ago(5), properties: { email_id: 'news-1' } });
    segment.track({ userId: 'seg-1', event: 'Survey Submitted', messageId: 'seg-1-s1', timestamp: ago(4), properties: { rating: 5 } });
    segment.track({ userId: 'seg-1', event: 'Wishlist Shared', messageId: 'seg-1-w1', timestamp: ago(3) });
    // A whole-order refund, sent before the order it refunds.
    segment.track({ userId: 'seg-2', event: 'Order Refunded', messageId: 'seg-2-r1', timestamp: ago(1), properties: { order_id: 'o9' } });
    segment.track({ userId: 'seg-2', event: 'Order Completed', messageId: 'seg-2-o1', timestamp: ago(2), properties: { order_id: 'o9', total: 80 } });
    // Kept under anon:anon-1, merged into seg-1 by the alias below.
    segment.track({ anonymousId: 'anon-1', event: 'Order Completed', messageId: 'anon-1-o1', properties: { order_id: 'anon', total: 5 } });
    // Counted and not stored.
    segment.page({ userId: 'seg-1', name: 'Home' });
    segment.screen({ userId: 'seg-1', name: 'Cart' });
    segment.group({ userId: 'seg-1', groupId: 'g1' });
    segment.alias({ userId: 'seg-1', previousId: 'anon-1' });
    await segment.closeAndFlush();
    expect(sdkErrors).toEqual([]);
    expect(statuses).toEqual([200]);

    const rudder = new RudderAnalytics(writeKey, { dataPlaneUrl: `${base}/compat/segment`, flushAt: 50, flushInterval: 60_000, retryCount: 0, logLevel: 'error' });
    // Observe what the SDK really sent (gzip is its default) and what it got back.
    const rudderSent: { encoding: unknown; status: number }[] = [];
    (rudder as unknown as { axiosInstance: { interceptors: { response: { use(f: (r: { status: number; config: { headers: Record<string, unknown> } }) => unknown): void } } } })
      .axiosInstance.interceptors.response.use((r) => {
        rudderSent.push({ encoding: r.config.headers['Content-Encoding'], status: r.status });
        return r;
      });
    // The SDK sends messageId as given, though its typings leave it out.
    const send = rudder as unknown as Record<'identify' | 'track', (m: Record<string, unknown>) => void>;
    send.identify({ userId: 'rud-1', messageId: 'rud-1-id', traits: { name: 'Bo', email: 'bo@example.com', country: 'DE' } });
    send.track({ userId: 'rud-1', event: 'Order Completed', messageId: 'rud-1-o1', timestamp: ago(20), properties: { order_id: 'r1', total: 200, products: [{ sku: 'x', category: 'coats', price: 200, quantity: 1 }] } });
    send.track({ userId: 'rud-1', event: 'Order Completed', messageId: 'rud-1-o2', timestamp: ago(15), properties: { order_id: 'r2', total: 300 } });
    send.track({ userId: 'rud-1', event: 'Order Cancelled', messageId: 'rud-1-c2', timestamp: ago(14), properties: { order_id: 'r2' } });
    send.track({ userId: 'rud-1', event: 'Complaint Filed', messageId: 'rud-1-k1', timestamp: ago(12) });
    send.track({ userId: 'rud-1', event: 'Ticket Created', messageId: 'rud-1-k2', timestamp: ago(11) });
    send.track({ userId: 'rud-1', event: 'Complaint Filed', messageId: 'rud-1-k3', timestamp: ago(10) });
    // Historical: an explicit timestamp next to the SDK's own originalTimestamp is kept as is.
    send.track({ userId: 'rud-2', event: 'Order Completed', messageId: 'rud-2-o1', timestamp: ago(400), properties: { order_id: 'h1', total: 40 } });
    await rudder.flush();
    expect(rudderSent.length).toBeGreaterThan(0);
    expect(new Set(rudderSent.map((r) => `${r.encoding} ${r.status}`))).toEqual(new Set(['gzip 200']));

    await settle(svc, 17);

    await eventually(async () => ((await customer('seg-1')).metrics?.order_count === 3 ? true : undefined), 30_000, 'the anonymous order merged');
    const seg1 = await customer('seg-1');
    expect(seg1.traits).toMatchObject({ email: 'ada@example.com', name: 'Ada L', city: 'Lyon', country: 'FR', plan: 'gold' });
    expect(seg1.metrics).toMatchObject({ order_count: 3, net_revenue: '135.50', interactions_90d: 3, satisfaction_avg: 5, distinct_categories: 2 });
    expect(seg1.merged_ids).toEqual(['anon-1', 'anon:anon-1']);
    expect(seg1.lifecycle_stage).toBe('active');

    const seg2 = await customer('seg-2');
    expect(seg2.metrics).toMatchObject({ order_count: 0, net_revenue: '0.00' });
    expect(seg2.tier).toBeNull();
    expect(seg2.lifecycle_stage).toBe('prospect');

    const rud1 = await customer('rud-1');
    expect(rud1.traits).toMatchObject({ name: 'Bo', email: 'bo@example.com', country: 'DE' });
    expect(rud1.metrics).toMatchObject({ order_count: 1, net_revenue: '200.00', complaints_90d: 2, interactions_90d: 3 });
    expect(rud1.lifecycle_stage).toBe('at_risk');
    expect(rud1.at_risk.reasons.map((r: { code: string }) => r.code)).toContain('complaints');

    const rud2 = await customer('rud-2');
    expect(rud2.metrics).toMatchObject({ order_count: 1, net_revenue: '40.00' });
    expect(rud2.lifecycle_stage).toBe('lapsed');

    expect(await counter('segmentSkipped', { reason: 'not_stored' })).toBe(3);
    expect(await counter('segmentReceived', { type: 'track' })).toBe(16);
    expect(await counter('segmentReceived', { type: 'identify' })).toBe(2);
    expect((await svc.app.inject({ method: 'GET', url: '/v1/events/seg-1-w1', headers: auth() })).json()).toMatchObject({ type: 'interaction', kind: 'other', properties: { event: 'Wishlist Shared' } });

    // The same events through our own API give the same tiers: the mapping changes nothing
    // downstream. Their instants are the stored (skew-corrected) ones, to the millisecond.
    const at = async (id: string) => (await svc.app.inject({ method: 'GET', url: `/v1/events/${id}`, headers: auth() })).json().occurred_at;
    const native = await svc.app.inject({
      method: 'POST', url: '/v1/events/batch', headers: auth(),
      payload: { events: [
        { id: 'n-1', type: 'order', customer_id: 'native-seg-1', occurred_at: await at('seg-1-o1'), order_id: 'o1', amount: '100', items: [{ category: 'shoes', unit_price: '100', quantity: 1 }] },
        { id: 'n-2', type: 'order', customer_id: 'native-seg-1', occurred_at: await at('seg-1-o2'), order_id: 'o2', amount: '50.5', discount_amount: '5', items: [{ category: 'bags', unit_price: '50.5', quantity: 1 }] },
        { id: 'n-3', type: 'refund', customer_id: 'native-seg-1', occurred_at: await at('seg-1-r2'), order_id: 'o2', amount: '20' },
        { id: 'n-4', type: 'order', customer_id: 'native-seg-1', occurred_at: await at('anon-1-o1'), order_id: 'anon', amount: '5' },
      ] },
    });
    expect(native.statusCode).toBe(202);
    await settle(svc, 22);
    // The population statistics, computed in SQL from the stored events, agree with the domain:
    // the order with a whole-order refund (seg-2) makes no buyer.
    expect((await refreshPopulationStats(svc.deps.db, new Date())).buyers).toBe(4);
    // Tiers depend on those statistics: rescore everyone against one version before comparing.
    await rescore();
    const mirror = await customer('native-seg-1');
    const again = await customer('seg-1');
    expect(mirror.metrics.net_revenue).toBe(again.metrics.net_revenue);
    expect(again.tier).not.toBeNull();
    expect(mirror.tier).toBe(again.tier);
    expect(mirror.rfm_segment).toBe(again.rfm_segment);
  });

  it('a resent messageId changes nothing', async () => {
    const before = await customer('seg-1');
    const duplicates = await counter('eventsDuplicate');
    const segment = new SegmentAnalytics({ writeKey, host: base, path: '/compat/segment/v1/batch', maxRetries: 0 });
    segment.track({ userId: 'seg-1', event: 'Order Completed', messageId: 'seg-1-o1', timestamp: ago(1), properties: { order_id: 'o1-again', total: 999 } });
    segment.identify({ userId: 'seg-1', messageId: 'seg-1-id', traits: { email: 'changed@example.com' } });
    await segment.closeAndFlush();
    await settle(svc, 22);
    expect(await counter('eventsDuplicate')).toBe(duplicates + 2);
    const after = await customer('seg-1');
    // Everything but the two figures that move with the clock itself.
    const steady = ({ recency_days: _r, tenure_days: _t, ...rest }: Record<string, unknown>) => rest;
    expect(steady(after.metrics)).toEqual(steady(before.metrics));
    expect(after.metrics.net_revenue).toBe('135.50');
    expect(after.traits).toEqual(before.traits);
    expect([after.tier, after.lifecycle_stage]).toEqual([before.tier, before.lifecycle_stage]);
    const stored = await svc.app.inject({ method: 'GET', url: '/v1/events/seg-1-o1', headers: auth() });
    expect(stored.json()).toMatchObject({ order_id: 'o1', amount: '100' });
  });

  it('takes a gzip body, and a zip bomb is a 413', async () => {
    const body = gzipSync(JSON.stringify({ batch: [{ type: 'track', userId: 'gz-1', messageId: 'gz-1-o', event: 'Order Completed', properties: { order_id: 'g1', total: '12.3400' } }] }));
    const res = await post('/v1/batch', body, { authorization: basic(writeKey), 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    await settle(svc, 21);
    expect((await customer('gz-1')).metrics).toMatchObject({ order_count: 1, net_revenue: '12.34' });

    const bomb = gzipSync(Buffer.concat([Buffer.from('{"batch":["'), Buffer.alloc(20 * 1024 * 1024, 0x61), Buffer.from('"]}')]));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const refused = await post('/v1/batch', bomb, { authorization: basic(writeKey), 'content-encoding': 'gzip' });
    expect(refused.status).toBe(413);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const notGzip = await post('/v1/batch', Buffer.from('plainly not gzip'), { authorization: basic(writeKey), 'content-encoding': 'gzip' });
    expect(notGzip.status).toBe(400);
  });

  it('keeps the size limits: 500 KB per batch, 32 KB per call, an oversized message in a batch is skipped', async () => {
    const message = (i: number, pad = 0) => ({ type: 'track', userId: 'size-1', messageId: `size-${i}`, event: 'Email Opened', properties: { pad: 'x'.repeat(pad) } });
    const tooBig = JSON.stringify({ batch: Array.from({ length: 20 }, (_, i) => message(i, 30 * 1024)) });
    expect((await post('/v1/batch', tooBig, { authorization: basic(writeKey) })).status).toBe(413);
    expect((await post('/v1/track', JSON.stringify(message(99, 33 * 1024)), { authorization: basic(writeKey) })).status).toBe(413);

    const malformed = await counter('segmentSkipped', { reason: 'malformed' });
    const mixed = JSON.stringify({ batch: [message(1), message(2, 33 * 1024), { type: 'track', userId: 'size-1' }, 'junk', message(3)] });
    const res = await post('/v1/batch', mixed, { authorization: basic(writeKey) });
    expect(res.status).toBe(200);
    expect(await counter('segmentSkipped', { reason: 'malformed' })).toBe(malformed + 3);
    await settle(svc, 23);
    expect((await customer('size-1')).metrics).toMatchObject({ interactions_90d: 2 });
  });

  it('takes whole-order refunds through our own API too, and refuses a refund with neither or both', async () => {
    const event = (id: string, extra: Record<string, unknown>) => ({ id, type: 'refund', customer_id: 'w-1', occurred_at: ago(1).toISOString(), order_id: 'w', ...extra });
    const send = (events: unknown[]) => svc.app.inject({ method: 'POST', url: '/v1/events/batch', headers: auth(), payload: { events } });
    const refused = await send([event('w-bad-1', {}), event('w-bad-2', { amount: '5', whole_order: true })]);
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors.map((e: { path: string }) => e.path)).toEqual(['events[0].amount', 'events[1].amount']);
    const order = { id: 'w-o', type: 'order', customer_id: 'w-1', occurred_at: ago(2).toISOString(), order_id: 'w', amount: '70' };
    expect((await send([order, event('w-r', { whole_order: true })])).statusCode).toBe(202);
    await settle(svc, 25);
    expect((await customer('w-1')).metrics).toMatchObject({ order_count: 0, net_revenue: '0.00' });
  });

  it('answers 401 without a valid write key, 403 without events:write, 400 for a malformed request', async () => {
    const batch = JSON.stringify({ batch: [] });
    const wrong = await post('/v1/batch', batch, { authorization: basic('not-a-key') });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
    expect(wrong.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect((await post('/v1/batch', batch, {})).status).toBe(401);
    const readOnly = await createKey(svc, ['customers:read']);
    expect((await post('/v1/batch', batch, { authorization: basic(readOnly) })).status).toBe(403);
    // The write key in the body, as the Segment HTTP API also allows, and a Bearer key.
    expect((await post('/v1/batch', JSON.stringify({ batch: [], writeKey }), {})).status).toBe(200);
    expect((await post('/v1/identify', JSON.stringify({ userId: 'b-1', traits: {} }), { authorization: `Bearer ${writeKey}` })).status).toBe(200);
    for (const type of ['page', 'screen', 'group', 'alias']) {
      expect((await post(`/v1/${type}`, JSON.stringify({ userId: 'b-1', name: 'x' }), { authorization: basic(writeKey) })).status, type).toBe(200);
    }

    const notJson = await post('/v1/batch', '{"batch": [', { authorization: basic(writeKey) });
    expect(notJson.status).toBe(400);
    expect(notJson.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const noBatch = await post('/v1/batch', JSON.stringify({ events: [] }), { authorization: basic(writeKey) });
    expect(noBatch.status).toBe(400);
    const problem = (await noBatch.json()) as { errors: { path: string }[] };
    expect(problem.errors.map((e) => e.path)).toContain('batch');
    expect((await post('/v1/track', '[1, 2]', { authorization: basic(writeKey) })).status).toBe(400);
  });

  const storedEvent = (id: string) =>
    eventually(async () => {
      const res = await svc.app.inject({ method: 'GET', url: `/v1/events/${id}`, headers: auth() });
      return res.statusCode === 200 ? res.json<{ occurred_at: string } & Record<string, unknown>>() : undefined;
    }, 15_000, `event ${id}`);

  it('skips a message whose corrected time is past what a date holds, and keeps the rest of the batch', async () => {
    const malformed = await counter('segmentSkipped', { reason: 'malformed' });
    const order = (id: string, extra: Record<string, unknown>) =>
      ({ type: 'track', userId: 'far-1', messageId: id, event: 'Order Completed', properties: { order_id: id, total: 9 }, ...extra });
    // receivedAt − (sentAt − originalTimestamp) is 400 000 years from now: no Date can hold it.
    const batch = JSON.stringify({ batch: [
      order('far-good', { timestamp: ago(1).toISOString() }),
      order('far-bad', { originalTimestamp: '+200000-01-01T00:00:00Z', sentAt: '-200000-01-01T00:00:00Z' }),
    ] });
    const res = await post('/v1/batch', batch, { authorization: basic(writeKey) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true });
    expect(await counter('segmentSkipped', { reason: 'malformed' })).toBe(malformed + 1);
    expect(await storedEvent('far-good')).toMatchObject({ type: 'order', customer_id: 'far-1', amount: '9' });
    expect((await svc.app.inject({ method: 'GET', url: '/v1/events/far-bad', headers: auth() })).statusCode).toBe(404);
  });

  it('corrects the time of a batch sent from a clock an hour ahead of ours', async () => {
    const before = Date.now();
    const sentAt = before + 3_600_000;
    // On the sender's clock the order happened two days before it sent the batch.
    const batch = JSON.stringify({ sentAt: new Date(sentAt).toISOString(), batch: [
      { type: 'track', userId: 'skew-1', messageId: 'skew-o1', event: 'Order Completed', originalTimestamp: new Date(sentAt - 2 * DAY).toISOString(), properties: { order_id: 'sk1', total: 10 } },
    ] });
    const res = await post('/v1/batch', batch, { authorization: basic(writeKey) });
    const after = Date.now();
    expect(res.status).toBe(200);
    const occurredAt = Date.parse((await storedEvent('skew-o1')).occurred_at);
    // Our receipt time minus two days; uncorrected it would be an hour later than that.
    expect(occurredAt).toBeGreaterThanOrEqual(before - 2 * DAY);
    expect(occurredAt).toBeLessThanOrEqual(after - 2 * DAY);
  });
});

describe('Segment-compatible source under backlog', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ workers: false, config: { INGEST_MAX_WAITING: 1 } });
  });
  afterAll(async () => svc?.close());

  it('answers 503 with Retry-After while the ingest queue is over its limit (both SDKs retry a 503)', async () => {
    const send = (i: number) =>
      svc.app.inject({
        method: 'POST', url: '/compat/segment/v1/track', headers: { authorization: basic('test-admin-key-0123456789') },
        payload: { userId: 'q-1', messageId: `q-${i}`, event: 'Email Opened' },
      });
    expect((await send(1)).statusCode).toBe(200);
    expect((await send(2)).statusCode).toBe(200);
    const refused = await send(3);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(await svc.deps.queues.ingest.getWaitingCount()).toBe(2);
  });
});
