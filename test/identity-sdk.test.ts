import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { auth, eventually, startService, type TestService } from './harness.ts';

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

/** A service listening on a port, with a write key for the SDKs. */
async function listening(config: Parameters<typeof startService>[0] = {}) {
  const svc = await startService(config);
  const base = await svc.app.listen({ host: '127.0.0.1', port: 0 });
  const res = await svc.app.inject({ method: 'POST', url: '/v1/api-keys', headers: auth(), payload: { name: 'sdk', scopes: ['events:write'] } });
  return { svc, base, writeKey: res.json().key as string };
}

function customerReads(svc: TestService) {
  const get = (id: string) => svc.app.inject({ method: 'GET', url: `/v1/customers/${encodeURIComponent(id)}`, headers: auth() });
  return {
    get,
    /** The customer once `ready` holds for it. */
    customerWhen: (id: string, ready: (c: Record<string, any>) => boolean, what: string) =>
      eventually<Record<string, any>>(async () => {
        const res = await get(id);
        return res.statusCode === 200 && ready(res.json()) ? res.json() : undefined;
      }, 60_000, what),
    merge: async (eventId: string) =>
      (await svc.deps.db.execute<{ outcome: string; reason: string | null; survivor_id: string | null }>(sql`
        select outcome, reason, survivor_id from customer_merges where event_id = ${eventId}`)).rows[0],
  };
}

describe('merges through the real SDKs', () => {
  let svc: TestService;
  let base: string;
  let writeKey: string;
  let h: ReturnType<typeof customerReads>;
  beforeAll(async () => {
    ({ svc, base, writeKey } = await listening());
    h = customerReads(svc);
  });
  afterAll(async () => svc?.close());
  const segment = () => new SegmentAnalytics({ writeKey, host: base, path: '/compat/segment/v1/batch', flushAt: 100, flushInterval: 60_000, maxRetries: 0 });
  const rudder = () => new RudderAnalytics(writeKey, { dataPlaneUrl: `${base}/compat/segment`, flushAt: 100, flushInterval: 60_000, retryCount: 0, logLevel: 'error' });

  it('a guest browses and buys anonymously, then identifies: one customer with the guest order, the anonymous id answers 308', async () => {
    const guest = segment();
    guest.page({ anonymousId: 'browser-1', name: 'Home', timestamp: ago(6) });
    guest.track({ anonymousId: 'browser-1', event: 'Product Viewed', messageId: 'b1-view', timestamp: ago(6), properties: { product_id: 'p1' } });
    guest.track({ anonymousId: 'browser-1', event: 'Order Completed', messageId: 'b1-o1', timestamp: ago(5), properties: { order_id: 'guest-o1', total: 40 } });
    await guest.closeAndFlush();
    await h.customerWhen('anon:browser-1', (c) => c.metrics?.order_count === 1, 'the guest profile');

    const known = segment();
    known.track({ userId: 'user-1', event: 'Order Completed', messageId: 'u1-o1', timestamp: ago(2), properties: { order_id: 'user-o1', total: 60 } });
    known.identify({ userId: 'user-1', anonymousId: 'browser-1', messageId: 'u1-id', traits: { email: 'ann@example.com' } });
    await known.closeAndFlush();

    const customer = await h.customerWhen('user-1', (c) => c.metrics?.order_count === 2, 'the merged customer');
    expect(customer.metrics).toMatchObject({ order_count: 2, net_revenue: '100.00', interactions_90d: 1 });
    expect(customer.merged_ids).toEqual(['anon:browser-1']);
    expect(customer.traits).toMatchObject({ email: 'ann@example.com' });
    const anon = await h.get('anon:browser-1');
    expect(anon.statusCode).toBe(308);
    expect(anon.headers.location).toBe('/v1/customers/user-1');

    // The browser keeps sending both ids: the link is made once, later messages land on user-1.
    const later = segment();
    later.track({ userId: 'user-1', anonymousId: 'browser-1', event: 'Order Completed', messageId: 'u1-o2', timestamp: ago(1), properties: { order_id: 'user-o2', total: 10 } });
    later.track({ anonymousId: 'browser-1', event: 'Email Opened', messageId: 'b1-open', timestamp: ago(1) });
    await later.closeAndFlush();
    const after = await h.customerWhen('user-1', (c) => c.metrics?.order_count === 3 && c.metrics?.interactions_90d === 2, 'the later messages');
    expect(after.metrics.net_revenue).toBe('110.00');
    expect((await svc.deps.db.execute(sql`select 1 from customer_merges where outcome = 'merged' and survivor_id = 'user-1'`)).rows).toHaveLength(1);
  });

  it('alias chains resolve, a late event for a merged id lands on the survivor, and a cycle is refused', async () => {
    const rs = rudder();
    const send = rs as unknown as Record<'track' | 'alias', (m: Record<string, unknown>) => void>;
    for (const [user, days] of [['chain-a', 30], ['chain-b', 20], ['chain-c', 10]] as const) {
      send.track({ userId: user, event: 'Order Completed', messageId: `${user}-o`, timestamp: ago(days), properties: { order_id: `${user}-o`, total: 10 } });
    }
    await rs.flush();
    await h.customerWhen('chain-a', (c) => c.metrics?.order_count === 1, 'chain-a');
    await h.customerWhen('chain-c', (c) => c.metrics?.order_count === 1, 'chain-c');

    send.alias({ userId: 'chain-b', previousId: 'chain-a', messageId: 'alias-ab' });
    await rs.flush();
    await h.customerWhen('chain-b', (c) => c.metrics?.order_count === 2, 'a merged into b');
    send.alias({ userId: 'chain-c', previousId: 'chain-b', messageId: 'alias-bc' });
    await rs.flush();
    const c = await h.customerWhen('chain-c', (c) => c.metrics?.order_count === 3, 'b merged into c');
    expect(c.merged_ids).toEqual(expect.arrayContaining(['chain-a', 'chain-b']));
    expect((await h.get('chain-a')).headers.location).toBe('/v1/customers/chain-c');

    // A late event for the first merged id, stamped before every merge.
    send.track({ userId: 'chain-a', event: 'Order Completed', messageId: 'chain-a-late', timestamp: ago(40), properties: { order_id: 'amy-late', total: 5 } });
    await rs.flush();
    const late = await h.customerWhen('chain-c', (c) => c.metrics?.order_count === 4, 'the late order');
    expect(late.metrics.net_revenue).toBe('35.00');

    // Merging c back into a (merged into c) would be a cycle.
    send.alias({ userId: 'chain-a', previousId: 'chain-c', messageId: 'alias-cycle' });
    await rs.flush();
    const refused = await eventually(() => h.merge('alias-cycle'), 30_000, 'the refusal recorded');
    expect(refused).toEqual({ outcome: 'refused', reason: 'cycle', survivor_id: null });
    expect((await h.customerWhen('chain-c', (c) => c.metrics?.order_count === 4, 'chain-c unchanged')).merged_ids).toEqual(expect.arrayContaining(['chain-a', 'chain-b']));
  });

  it('erasing a merged survivor erases every merged identity', async () => {
    const s = segment();
    s.track({ anonymousId: 'browser-9', event: 'Order Completed', messageId: 'b9-o', timestamp: ago(3), properties: { order_id: 'b9-o', total: 7 } });
    s.identify({ userId: 'erase-me', anonymousId: 'browser-9', messageId: 'erase-id', traits: { email: 'gone@example.com' } });
    await s.closeAndFlush();
    await h.customerWhen('erase-me', (c) => c.metrics?.order_count === 1 && c.merged_ids.length === 1, 'the merged survivor');
    expect((await svc.app.inject({ method: 'DELETE', url: '/v1/customers/erase-me', headers: auth() })).statusCode).toBe(204);
    for (const id of ['erase-me', 'anon:browser-9']) expect((await h.get(id)).statusCode).toBe(404);
    const left = await svc.deps.db.execute(sql`
      select 1 from events where customer_id in ('erase-me', 'anon:browser-9')
      union all select 1 from customer_aliases where 'anon:browser-9' in (merged_id, survivor_id) or 'erase-me' in (merged_id, survivor_id)
      union all select 1 from customer_history where customer_id in ('erase-me', 'anon:browser-9')
      union all select 1 from customer_emails where customer_id in ('erase-me', 'anon:browser-9')`);
    expect(left.rows).toHaveLength(0);
  });
});

describe('merge by email (IDENTITY_MERGE_TRAITS=email)', () => {
  let svc: TestService;
  let base: string;
  let writeKey: string;
  let h: ReturnType<typeof customerReads>;
  beforeAll(async () => {
    ({ svc, base, writeKey } = await listening({ config: { IDENTITY_MERGE_TRAITS: ['email'] } }));
    h = customerReads(svc);
  });
  afterAll(async () => svc?.close());

  it('merges two registered ids with one email into the one whose first event is earlier', async () => {
    const s = new SegmentAnalytics({ writeKey, host: base, path: '/compat/segment/v1/batch', flushAt: 100, flushInterval: 60_000, maxRetries: 0 });
    // "zoe-early" bought first; "amy-late" is the smaller id, so only the first-event rule picks zoe-early.
    s.track({ userId: 'zoe-early', event: 'Order Completed', messageId: 'early-o', timestamp: ago(50), properties: { order_id: 'e-o', total: 20 } });
    s.track({ userId: 'amy-late', event: 'Order Completed', messageId: 'late-o', timestamp: ago(5), properties: { order_id: 'l-o', total: 30 } });
    s.identify({ userId: 'amy-late', messageId: 'late-id', timestamp: ago(4), traits: { email: 'Same@Example.com ' } });
    await s.closeAndFlush();
    await h.customerWhen('amy-late', (c) => c.traits.email !== undefined, 'late identified');
    const s2 = new SegmentAnalytics({ writeKey, host: base, path: '/compat/segment/v1/batch', flushAt: 100, flushInterval: 60_000, maxRetries: 0 });
    s2.identify({ userId: 'zoe-early', messageId: 'early-id', timestamp: ago(1), traits: { email: 'same@example.com' } });
    // A third profile with another email stays apart.
    s2.identify({ userId: 'other', messageId: 'other-id', traits: { email: 'other@example.com' } });
    await s2.closeAndFlush();
    const survivor = await h.customerWhen('zoe-early', (c) => c.metrics?.order_count === 2, 'the email merge');
    expect(survivor.merged_ids).toEqual(['amy-late']);
    expect(survivor.metrics.net_revenue).toBe('50.00');
    // Traits: per key the later occurred_at wins.
    expect(survivor.traits.email).toBe('same@example.com');
    expect((await h.get('amy-late')).statusCode).toBe(308);
    expect((await h.get('other')).statusCode).toBe(200);
  });
});
