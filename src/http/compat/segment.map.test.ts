import { describe, expect, it } from 'vitest';
import { mapMessage, type Mapped } from './segment.map.ts';
import { prepareMessages } from './segment.prepare.ts';
import { correctTimestamp } from './segment.time.ts';

const RECEIVED = new Date('2026-06-01T12:00:00.000Z');
const ctx = { receivedAt: RECEIVED };
const track = (event: string, properties: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  type: 'track', messageId: 'm-1', userId: 'u-1', event, properties, timestamp: '2026-06-01T11:00:00.000Z', ...extra,
});
const eventOf = (m: Mapped): Record<string, unknown> => (m.kind === 'event' ? m.events[0]! : m);
const eventsOf = (m: Mapped): Record<string, unknown>[] => (m.kind === 'event' ? m.events : [m]);

describe('mapMessage: Segment spec messages to our events', () => {
  const cases: [string, unknown, Record<string, unknown>][] = [
    ['Order Completed → order (total is the amount)', track('Order Completed', {
      order_id: 'o-1', total: 27.5, revenue: 25, discount: 2.5, coupon: 'SUMMER', currency: 'usd', channel: 'web',
      products: [{ product_id: 'p-1', sku: 'SKU-1', category: 'Shoes', price: 12.5, quantity: 2 }, { product_id: 7, price: '0.5' }],
    }), {
      id: 'm-1', type: 'order', customer_id: 'u-1', occurred_at: '2026-06-01T11:00:00.000Z', order_id: 'o-1', amount: '27.5',
      discount_amount: '2.5', currency: 'USD', channel: 'online',
      items: [{ sku: 'SKU-1', category: 'Shoes', quantity: 2, unit_price: '12.5' }, { sku: '7', unit_price: '0.5' }],
      properties: { order_id: 'o-1', total: 27.5, revenue: 25, discount: 2.5, coupon: 'SUMMER', currency: 'usd', channel: 'web', event: 'Order Completed' },
    }],
    ['revenue when there is no total', track('Order Completed', { order_id: 'o', revenue: 10 }), { amount: '10' }],
    ['Σ price × quantity when neither is given', track('Order Completed', { order_id: 'o', products: [{ price: 2.25, quantity: 2 }, { price: 1 }] }), { amount: '5.5' }],
    ['float noise is rounded to 4 decimals', track('Order Completed', { order_id: 'o', total: 0.1 + 0.2 }), { amount: '0.3' }],
    ['a negated discount is a discount', track('Order Completed', { order_id: 'o', total: 9, discount: -1 }), { discount_amount: '1' }],
    ['context.channel gives the channel', track('Order Completed', { order_id: 'o', total: 1 }, { context: { channel: 'pos' } }), { channel: 'store' }],
    ['the library channel mobile is app', track('Order Completed', { order_id: 'o', total: 1 }, { channel: 'mobile' }), { channel: 'app' }],
    ['an unknown channel name is other', track('Order Completed', { order_id: 'o', total: 1, channel: 'kiosk' }), { channel: 'other' }],
    ['Order Refunded with a total → refund of that amount', track('Order Refunded', { order_id: 'o', total: 5 }), { type: 'refund', order_id: 'o', amount: '5' }],
    ['Order Refunded without an amount → whole order', track('Order Refunded', { order_id: 'o' }), { type: 'refund', order_id: 'o', whole_order: true }],
    ['Order Cancelled → order_cancelled', track('Order Cancelled', { order_id: 42 }), { type: 'order_cancelled', order_id: '42' }],
    ['Email Opened', track('Email Opened', { email_id: 'e' }), { type: 'interaction', kind: 'email_open' }],
    ['Email Link Clicked', track('Email Link Clicked'), { kind: 'email_click' }],
    ['Product Viewed', track('Product Viewed'), { kind: 'site_visit' }],
    ['Complaint Filed', track('Complaint Filed'), { kind: 'complaint' }],
    ['Ticket Created', track('Ticket Created'), { kind: 'support_ticket' }],
    ['Survey Submitted keeps a 1–5 rating', track('Survey Submitted', { rating: 2 }), { kind: 'survey', satisfaction: 2 }],
    ['names match without case or underscores', track('survey_submitted', { rating: 4 }), { kind: 'survey', satisfaction: 4 }],
    ['other tracks → other, keeping the name', track('Wishlist Shared', { list: 'x' }), { kind: 'other', properties: { list: 'x', event: 'Wishlist Shared' } }],
    ['identify → customer traits', {
      type: 'identify', messageId: 'm-2', userId: 17, timestamp: '2026-06-01T10:00:00Z',
      traits: { email: 'a@example.com', firstName: 'Ada', lastName: 'L', address: { city: 'Paris', country: 'FR' }, createdAt: '2025-01-02T00:00:00Z', plan: 'pro' },
    }, {
      id: 'm-2', type: 'customer', customer_id: '17',
      traits: { email: 'a@example.com', firstName: 'Ada', lastName: 'L', name: 'Ada L', address: { city: 'Paris', country: 'FR' }, city: 'Paris', country: 'FR', signup_at: '2025-01-02T00:00:00.000Z', plan: 'pro' },
    }],
    ['identify traits from context.traits', { type: 'identify', userId: 'u', messageId: 'm', context: { traits: { name: 'Bo' } } }, { traits: { name: 'Bo' } }],
  ];
  it.each(cases)('%s', (_name, raw, expected) => {
    expect(eventOf(mapMessage(raw, ctx))).toMatchObject(expected);
  });

  const skips: [string, unknown, string][] = [
    ['no identity at all', { type: 'track', event: 'X', messageId: 'm' }, 'malformed'],
    ['an alias without previousId', { type: 'alias', userId: 'u' }, 'malformed'],
    ['not an object', 'hello', 'malformed'],
    ['an unknown type', { type: 'purchase', userId: 'u' }, 'malformed'],
    ['a track without a name', { type: 'track', userId: 'u' }, 'malformed'],
    ['a bad timestamp', { ...track('X'), timestamp: 'yesterday' }, 'malformed'],
    ['a corrected time past the date range', { ...track('X'), timestamp: undefined, originalTimestamp: '+200000-01-01T00:00:00Z', sentAt: '-200000-01-01T00:00:00Z' }, 'malformed'],
    ['over 32 KB', track('X', { blob: 'x'.repeat(33 * 1024) }), 'malformed'],
    ['page', { type: 'page', userId: 'u', name: 'Home' }, 'not_stored'],
    ['screen', { type: 'screen', userId: 'u' }, 'not_stored'],
    ['group', { type: 'group', userId: 'u', groupId: 'g' }, 'not_stored'],
  ];
  it.each(skips)('skips %s', (_name, raw, reason) => {
    const mapped = mapMessage(raw, ctx);
    expect(mapped.kind === 'skip' && mapped.reason).toBe(reason);
  });

  it('keeps an anonymous-only message under anon:<anonymousId>', () => {
    const anonymous = { ...track('Order Completed', { order_id: 'o', total: 1 }), userId: undefined, anonymousId: 'a-1' };
    expect(eventsOf(mapMessage(anonymous, ctx))).toEqual([expect.objectContaining({ id: 'm-1', type: 'order', customer_id: 'anon:a-1' })]);
  });

  it('links an anonymousId to the userId of the same message by one alias per pair', () => {
    const [event, link] = eventsOf(mapMessage({ ...track('Email Opened'), anonymousId: 'a-1' }, ctx));
    expect(event).toMatchObject({ id: 'm-1', customer_id: 'u-1', type: 'interaction' });
    expect(link).toMatchObject({ type: 'alias', customer_id: 'u-1', previous_id: 'anon:a-1', occurred_at: '2026-06-01T11:00:00.000Z' });
    const identify = { type: 'identify', messageId: 'm-2', userId: 'u-1', anonymousId: 'a-1', traits: { email: 'a@example.com' } };
    expect(eventsOf(mapMessage(identify, ctx))[1]!.id).toBe(link!.id);
  });

  it('maps alias to merges of previousId, as a userId and as an anonymousId', () => {
    const events = eventsOf(mapMessage({ type: 'alias', messageId: 'm-3', userId: 'u-1', previousId: 'old-1', timestamp: '2026-06-01T11:00:00.000Z' }, ctx));
    expect(events).toEqual([
      expect.objectContaining({ id: 'm-3', type: 'alias', customer_id: 'u-1', previous_id: 'old-1' }),
      expect.objectContaining({ type: 'alias', customer_id: 'u-1', previous_id: 'anon:old-1' }),
    ]);
  });

  it("extends each message's context with the batch's", () => {
    const order = track('Order Completed', { order_id: 'o', total: 1 }, { context: { ip: '1.2.3.4' } });
    expect(eventOf(mapMessage(order, { ...ctx, context: { channel: 'marketplace' } }))).toMatchObject({ channel: 'marketplace' });
    const own = track('Order Completed', { order_id: 'o', total: 1 }, { context: { channel: 'store' } });
    expect(eventOf(mapMessage(own, { ...ctx, context: { channel: 'marketplace' } }))).toMatchObject({ channel: 'store' });
  });

  it('takes the type from the path for /v1/track and the like', () => {
    const { type: _type, ...untyped } = track('Email Opened');
    expect(eventOf(mapMessage(untyped, ctx, 'track'))).toMatchObject({ type: 'interaction', kind: 'email_open' });
  });

  it('skips a message, or one whose batch context, nests deeper than JSON bodies may, without walking it', () => {
    const deep = (levels: number) => JSON.parse(`${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`) as Record<string, unknown>;
    const nested = track('Email Opened', deep(10_000));
    expect(mapMessage(nested, ctx)).toMatchObject({ kind: 'skip', reason: 'malformed', detail: expect.stringMatching(/nest at most 64 levels/) });
    expect(mapMessage(track('Email Opened'), { ...ctx, context: deep(10_000) })).toMatchObject({ kind: 'skip', reason: 'malformed' });
    expect(mapMessage(track('Email Opened', deep(20)), ctx)).toMatchObject({ kind: 'event' });
  });

  it('uses a content hash as the id when there is no messageId, so a resent copy dedupes', () => {
    const { messageId: _id, ...anonymousId } = track('Email Opened');
    const a = eventOf(mapMessage(anonymousId, ctx));
    expect(a.id).toMatch(/^segment-[0-9a-f]{40}$/);
    expect(eventOf(mapMessage({ ...anonymousId }, ctx)).id).toBe(a.id);
  });
});

describe('correctTimestamp: receivedAt − (sentAt − originalTimestamp)', () => {
  const cases: [string, Record<string, string>, string | undefined, string | null][] = [
    ['a device clock 1 h fast is corrected', { timestamp: '2026-06-01T12:59:00Z' }, '2026-06-01T13:00:00Z', '2026-06-01T11:59:00.000Z'],
    ['the message sentAt wins over the batch one', { originalTimestamp: '2026-06-01T09:00:00Z', sentAt: '2026-06-01T10:00:00Z' }, '2026-06-01T13:00:00Z', '2026-06-01T11:00:00.000Z'],
    ['an upstream receivedAt is kept', { originalTimestamp: '2026-05-01T09:00:00Z', sentAt: '2026-05-01T09:00:10Z', receivedAt: '2026-05-01T08:00:10Z' }, undefined, '2026-05-01T08:00:00.000Z'],
    ['timestamp next to originalTimestamp is already corrected', { timestamp: '2025-01-01T00:00:00Z', originalTimestamp: '2026-06-01T11:00:00Z' }, '2026-06-01T11:00:01Z', '2025-01-01T00:00:00.000Z'],
    ['without sentAt the device time is kept', { timestamp: '2026-06-01T11:00:00Z' }, undefined, '2026-06-01T11:00:00.000Z'],
    ['without any time the message happened on receipt', {}, '2026-06-01T11:00:00Z', '2026-06-01T12:00:00.000Z'],
    ['an unparseable instant is refused', { timestamp: 'soon' }, undefined, null],
    // receivedAt − (sentAt − device) lands 400 000 years out, past what a Date can hold.
    ['a correction past the date range is refused', { originalTimestamp: '+200000-01-01T00:00:00Z', sentAt: '-200000-01-01T00:00:00Z' }, undefined, null],
  ];
  it.each(cases)('%s', (_name, message, sentAt, expected) => {
    expect(correctTimestamp(message, sentAt, RECEIVED)?.toISOString() ?? null).toBe(expected);
  });
});

describe('prepareMessages: the same validation as POST /v1/events/batch, message by message', () => {
  it('skips what our event schema refuses and keeps the rest', () => {
    const prepared = prepareMessages([
      track('Order Completed', { order_id: 'o-1', total: 10 }, { messageId: 'ok' }),
      track('Order Completed', { order_id: 'o-2', total: 10, currency: 'EUR' }, { messageId: 'eur' }),
      track('Order Completed', { order_id: 'o-3', total: -1 }, { messageId: 'negative' }),
      track('Order Completed', { total: 3 }, { messageId: 'no-order-id' }),
      track('Email Opened', {}, { messageId: 'future', timestamp: '2026-06-01T13:00:00Z' }),
      { type: 'identify', userId: 'u', messageId: 'huge-traits', traits: { notes: 'x'.repeat(9 * 1024) } },
    ], { receivedAt: RECEIVED, currency: 'USD' });
    expect(prepared.events.map((e) => e.id)).toEqual(['ok']);
    expect(prepared.outcomes.map((o) => o.skipped)).toEqual([null, 'malformed', 'malformed', 'malformed', 'malformed', 'malformed']);
    expect(prepared.outcomes[1]!.detail).toMatch(/currency/);
  });

  const refused: [string, unknown, RegExp][] = [
    ['an order_id that is an object', track('Order Completed', { order_id: { id: 1 }, total: 1 }), /order_id/],
    ['an order without any amount', track('Order Completed', { order_id: 'o' }), /amount/],
    ['an amount with more than 4 decimals', track('Order Completed', { order_id: 'o', total: '1.23456' }), /amount/],
    ['a refund of a negative total', track('Order Refunded', { order_id: 'o', total: -5 }), /amount/],
    ['a cancellation without an order_id', track('Order Cancelled'), /order_id/],
  ];
  it.each(refused)('skips %s as malformed, naming the field', (_name, raw, field) => {
    const prepared = prepareMessages([raw], { receivedAt: RECEIVED, currency: 'USD' });
    expect(prepared.events).toEqual([]);
    expect(prepared.outcomes[0]).toMatchObject({ skipped: 'malformed', detail: expect.stringMatching(field) });
  });

  it('counts a message whose mapping throws as malformed, and keeps the others', () => {
    const prepared = prepareMessages([
      track('Order Completed', { order_id: 'o-1', total: 10 }, { messageId: 'ok' }),
      { ...track('X'), timestamp: undefined, originalTimestamp: '+200000-01-01T00:00:00Z', sentAt: '-200000-01-01T00:00:00Z', messageId: 'far' },
      // Not JSON-serialisable: nothing a request body can hold, but the mapper must not take the batch down with it.
      track('Email Opened', { n: 10n }, { messageId: 'bigint' }),
      track('Email Opened', {}, { messageId: 'ok-2' }),
    ], { receivedAt: RECEIVED, currency: 'USD' });
    expect(prepared.events.map((e) => e.id)).toEqual(['ok', 'ok-2']);
    expect(prepared.outcomes.map((o) => o.skipped)).toEqual([null, 'malformed', 'malformed', null]);
    expect(prepared.outcomes[2]!.detail).toMatch(/BigInt/);
  });
});

describe('prepareMessages: an optional field that does not fit is dropped, never the whole event', () => {
  const identify = (traits: Record<string, unknown>) => ({ type: 'identify', userId: 'u', messageId: 'i', traits });
  const order = (properties: Record<string, unknown>) => track('Order Completed', { order_id: 'o', ...properties });
  // Each case: the message, and the fields of the one resulting event to compare exactly.
  const cases: [string, unknown, Record<string, unknown>][] = [
    ['identify with a null email', identify({ email: null, plan: 'gold' }), { traits: { plan: 'gold' } }],
    ['identify with a numeric email', identify({ email: 42, name: 'Ada' }), { traits: { name: 'Ada' } }],
    ['identify with tags as one string', identify({ tags: 'vip' }), { traits: { tags: ['vip'] } }],
    ['identify with tags holding non-strings', identify({ tags: ['vip', 3, null, ' '] }), { traits: { tags: ['vip'] } }],
    ['identify with a null name and null address parts', identify({ name: null, country: null, city: 7, region: null }), { traits: {} }],
    ['identify with a 400-character email', identify({ email: `${'a'.repeat(390)}@example.com` }), { traits: {} }],
    ['createdAt in Unix seconds', identify({ createdAt: 1_700_000_000 }), { traits: { signup_at: '2023-11-14T22:13:20.000Z' } }],
    ['createdAt in Unix milliseconds', identify({ createdAt: 1_700_000_000_123 }), { traits: { signup_at: '2023-11-14T22:13:20.123Z' } }],
    ['createdAt past year 9999 is kept as sent', identify({ createdAt: '+200000-01-01T00:00:00Z' }), { traits: { createdAt: '+200000-01-01T00:00:00Z' } }],
    ['a product with quantity 1.5 keeps its other fields', order({ total: 3, products: [{ sku: 'a', price: 2, quantity: 1.5 }] }),
      { amount: '3', items: [{ sku: 'a', unit_price: '2' }] }],
    ['a discount line with a negative price', order({ total: 8, products: [{ sku: 'a', price: 10 }, { sku: 'promo', price: -2 }] }),
      { amount: '8', items: [{ sku: 'a', unit_price: '10' }, { sku: 'promo' }] }],
    ['a string price with 5 decimals', order({ revenue: 1.23, products: [{ sku: 'a', category: 'c', price: '1.23456', quantity: 1 }] }),
      { amount: '1.23', items: [{ sku: 'a', category: 'c', quantity: 1 }] }],
    ['a product left with nothing valid is no item', order({ total: 5, products: [{ price: -1 }, { sku: 'b', price: 5 }] }),
      { amount: '5', items: [{ sku: 'b', unit_price: '5' }] }],
    ['Σ products still prices an order whose items lose fields', order({ products: [{ sku: 'a', price: 10, quantity: 1.5 }, { sku: 'promo', price: -2 }] }),
      { amount: '13', items: [{ sku: 'a', unit_price: '10' }, { sku: 'promo' }] }],
    ['more than 500 products keep the order without items', order({ total: 4, products: Array.from({ length: 501 }, () => ({ sku: 'a' })) }),
      { amount: '4', items: undefined }],
    ['a discount that is not a decimal', order({ total: 4, discount: 'ten' }), { amount: '4', discount_amount: undefined }],
    ['an overlong sku falls back to product_id, an overlong category is dropped', order({ total: 4, products: [{ sku: 'x'.repeat(129), product_id: 'p', category: 'y'.repeat(129), price: 4 }] }),
      { amount: '4', items: [{ sku: 'p', unit_price: '4' }] }],
  ];
  it.each(cases)('%s', (_name, raw, expected) => {
    const prepared = prepareMessages([raw], { receivedAt: RECEIVED, currency: 'USD' });
    expect(prepared.outcomes).toEqual([{ type: expect.any(String), skipped: null }]);
    const event = prepared.events[0] as Record<string, unknown>;
    expect(Object.fromEntries(Object.keys(expected).map((k) => [k, event[k]]))).toEqual(expected);
  });
});
