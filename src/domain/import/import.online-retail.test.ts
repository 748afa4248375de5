import { describe, expect, it } from 'vitest';
import { createRetailLineReader, readRetailHeader } from './import.online-retail.ts';

const ctx = { currency: 'GBP', now: new Date('2026-01-01T00:00:00Z') };
const h = readRetailHeader(['InvoiceNo', 'StockCode', 'Description', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country']);
if (!h.ok) throw new Error(h.message);
const header = h.header;
const read = createRetailLineReader(header, ctx);
type Cells = { inv: string; sku: string; qty: string; date: string; price: string; cust: string; country: string };
const line = (over: Partial<Cells> = {}) => {
  const c: Cells = { inv: '536365', sku: '85123A', qty: '6', date: '2010-12-01 08:26:00', price: '2.55', cust: '17850.0', country: 'United Kingdom', ...over };
  return [c.inv, c.sku, 'WHITE HANGING HEART T-LIGHT HOLDER', c.qty, c.date, c.price, c.cust, c.country];
};

describe('Online Retail lines', () => {
  it('keeps a line with its invoice, customer 17850.0 as 17850, UK time as UTC', () => {
    expect(read(line())).toEqual({
      ok: true,
      value: {
        eventId: 'import:17850:536365',
        customerId: '17850',
        invoiceNo: '536365',
        occurredAt: '2010-12-01T08:26:00.000Z',
        sku: '85123A',
        quantity: 6,
        unitPrice: '2.55',
        region: 'United Kingdom',
      },
    });
    const summer = read(line({ date: '2011-06-15 12:00:00' }));
    expect(summer.ok && summer.value.occurredAt).toBe('2011-06-15T11:00:00.000Z');
  });

  // The import rules (docs/architecture.md, Import formats), checked in their order: the first that applies is the reason.
  it.each<[Partial<Cells>, string, boolean]>([
    [{ cust: '' }, 'missing_customer_id', false],
    [{ cust: '', inv: 'C536379' }, 'missing_customer_id', false],
    [{ inv: 'C536379' }, 'cancelled_invoice', false],
    [{ inv: 'A563185' }, 'adjustment_invoice', false],
    [{ qty: '0' }, 'non_positive_quantity', false],
    [{ qty: '-12' }, 'non_positive_quantity', false],
    [{ price: '0' }, 'non_positive_unit_price', false],
    [{ price: '-11062.06' }, 'non_positive_unit_price', false],
    [{ qty: '6.5' }, 'invalid_quantity', true],
    [{ qty: '2000000' }, 'invalid_quantity', true],
    [{ price: 'abc' }, 'invalid_unit_price', true],
    [{ price: '0.12345' }, 'invalid_unit_price', true],
    [{ date: '12/1/2010 8:26' }, 'invalid_invoice_date', true],
    [{ date: '2026-06-01 10:00:00' }, 'invalid_invoice_date', true],
    [{ cust: 'x'.repeat(129) }, 'invalid_customer_id', true],
  ])('%j → %s', (over, reason, malformed) => {
    expect(read(line(over))).toMatchObject({ ok: false, reason, malformed });
  });

  it('keeps a line without StockCode or Country, without them', () => {
    const r = read(line({ sku: '', country: '' }));
    expect(r.ok && [r.value.sku, r.value.region]).toEqual([null, null]);
  });

  it('names the column in its messages', () => {
    const r = read(line({ qty: 'six' }));
    expect(!r.ok && r.message).toBe('Quantity: must be a whole number, got "six"');
  });

  it('needs every UCI column but Description, and reads past extra ones', () => {
    const missing = readRetailHeader(['InvoiceNo', 'StockCode', 'Quantity', 'InvoiceDate', 'UnitPrice', 'Country']);
    expect(!missing.ok && missing.message).toMatch(/lacks the required column\(s\) CustomerID/);
    const extra = readRetailHeader(['', 'InvoiceNo', 'StockCode', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country']);
    expect(extra.ok && extra.header.ignored).toEqual(['']);
  });
});
