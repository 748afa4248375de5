import { describe, expect, it } from 'vitest';
import { createNativeRowReader, readNativeHeader, type NativeColumn } from './import.native.ts';
import type { Header } from './import.types.ts';

const ctx = { currency: 'USD', now: new Date('2026-01-01T00:00:00Z') };
const parseNativeRow = (cells: string[], header: Header<NativeColumn>, c = ctx) => createNativeRowReader(header, c)(cells);
const header = (cells: string[]) => {
  const h = readNativeHeader(cells);
  if (!h.ok) throw new Error(h.message);
  return h.header;
};
const full = header(['customer_id', 'order_id', 'occurred_at', 'amount', 'discount_amount', 'channel', 'region', 'category', 'currency']);
const row = (over: Partial<Record<string, string>> = {}) => {
  const base: Record<string, string> = {
    customer_id: 'cus-1', order_id: 'A-1', occurred_at: '2025-06-01T10:00:00+02:00', amount: '129.90',
    discount_amount: '', channel: '', region: '', category: '', currency: '', ...over,
  };
  return ['customer_id', 'order_id', 'occurred_at', 'amount', 'discount_amount', 'channel', 'region', 'category', 'currency'].map((k) => base[k]!);
};

describe('native rows', () => {
  it('gives the order as the API stores it', () => {
    expect(parseNativeRow(row({ discount_amount: '5', channel: 'store', region: 'EU', category: 'shirts', currency: 'USD' }), full, ctx)).toEqual({
      ok: true,
      value: {
        eventId: 'import:cus-1:A-1',
        customerId: 'cus-1',
        orderId: 'A-1',
        occurredAt: '2025-06-01T08:00:00.000Z',
        data: { order_id: 'A-1', amount: '129.90', discount_amount: '5', channel: 'store', region: 'EU', items: [{ category: 'shirts' }] },
      },
    });
  });

  it('leaves empty optional cells out', () => {
    const r = parseNativeRow(row(), full, ctx);
    expect(r.ok && r.value.data).toEqual({ order_id: 'A-1', amount: '129.90' });
  });

  it('reads the four required columns alone, in any order', () => {
    const h = header(['amount', 'occurred_at', 'order_id', 'customer_id']);
    const r = parseNativeRow(['0', '2025-01-01T00:00:00Z', 'o', 'c'], h, ctx);
    expect(r.ok && r.value.data).toEqual({ order_id: 'o', amount: '0' });
  });

  it.each<[Partial<Record<string, string>>, string, RegExp]>([
    [{ amount: '12.34567' }, 'invalid_amount', /^amount: must be a non-negative decimal with at most 4 decimals and 15 digits before the point$/],
    [{ amount: '-1' }, 'invalid_amount', /amount/],
    [{ amount: '' }, 'invalid_amount', /amount/],
    [{ amount: '1,5' }, 'invalid_amount', /amount/],
    [{ customer_id: '' }, 'invalid_customer_id', /customer_id/],
    [{ order_id: 'x'.repeat(129) }, 'invalid_order_id', /order_id/],
    [{ customer_id: 'c\u0000x' }, 'invalid_customer_id', /^customer_id: must not contain NUL/],
    [{ region: 'EU\ud800' }, 'invalid_region', /^region: must not contain NUL/],
    [{ occurred_at: '0000-01-01T00:00:00Z' }, 'invalid_occurred_at', /^occurred_at: must not be before 1970-01-01T00:00:00Z$/],
    [{ occurred_at: '2025-06-01 10:00:00' }, 'invalid_occurred_at', /occurred_at/],
    [{ occurred_at: '2025-06-01T10:00:00' }, 'invalid_occurred_at', /occurred_at/],
    [{ occurred_at: '2026-01-01T00:10:00Z' }, 'invalid_occurred_at', /^occurred_at: is more than 5 minutes in the future$/],
    [{ channel: 'web' }, 'invalid_channel', /channel/],
    [{ discount_amount: 'ten' }, 'invalid_discount_amount', /discount_amount/],
    [{ currency: 'EUR' }, 'invalid_currency', /^currency: must be USD/],
    [{ currency: 'usd' }, 'invalid_currency', /ISO 4217/],
    [{ amount: 'x', channel: 'web' }, 'invalid_amount', /^amount: .*; channel: /],
  ])('refuses %j as %s', (over, reason, message) => {
    const r = parseNativeRow(row(over), full, ctx);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r).toMatchObject({ reason, malformed: true });
    expect(r.message).toMatch(message);
  });

  it('refuses a row with the wrong number of fields', () => {
    expect(parseNativeRow(['a', 'b'], full, ctx)).toMatchObject({ ok: false, reason: 'wrong_field_count', message: 'expected 9 fields as in the header, got 2' });
  });

  it.each([
    [['customer_id', 'order_id', 'occurred_at'], /lacks the required column\(s\) amount/],
    [['customer_id', 'order_id', 'occurred_at', 'amount', 'chanel'], /unknown column\(s\) chanel/],
  ])('refuses the header %j', (cells, message) => {
    const h = readNativeHeader(cells);
    expect(h.ok ? '' : h.message).toMatch(message);
  });
});
