import { orderEvent, orderItem } from '../api/events.schemas.ts';
import { semanticProblems } from '../pipeline/ingest.prepare.ts';
import {
  fieldProblems,
  importEventId,
  malformed,
  readHeader,
  ruleSkip,
  type Header,
  type HeaderResult,
  type ImportContext,
  type RowResult,
} from './import.types.ts';

// The UCI Online Retail columns (SPEC §9). One row is one invoice line; Description is not read.
const REQUIRED = ['InvoiceNo', 'StockCode', 'Quantity', 'InvoiceDate', 'UnitPrice', 'CustomerID', 'Country'] as const;
const OPTIONAL = ['Description'] as const;
export type RetailColumn = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];

/** One invoice line kept for its order; lines are summed into one order per invoice when stored. */
export interface RetailLine {
  /** the event id of the invoice's order */
  eventId: string;
  customerId: string;
  invoiceNo: string;
  /** UTC, ISO 8601 */
  occurredAt: string;
  sku: string | null;
  quantity: number;
  unitPrice: string;
  region: string | null;
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?\d+(\.\d+)?$/;
/** CustomerID is written as a float (`17850.0`): the customer is `17850`. */
const FLOAT_ID = /^(\d+)\.0*$/;

const fields = orderEvent.shape;
const item = orderItem.shape;
const COLUMN_OF: Record<string, RetailColumn> = {
  order_id: 'InvoiceNo',
  customer_id: 'CustomerID',
  sku: 'StockCode',
  quantity: 'Quantity',
  unit_price: 'UnitPrice',
  region: 'Country',
};

export function readRetailHeader(cells: string[]): HeaderResult<RetailColumn> {
  return readHeader<RetailColumn>(cells, { required: REQUIRED, optional: OPTIONAL, strict: false });
}

/**
 * Applies the Online Retail rules in SPEC order (no CustomerID, invoice starting with C or A,
 * Quantity ≤ 0, UnitPrice ≤ 0: each skips the line under its own reason), then validates what is
 * left with the API's field schemas. `toUtc` reads InvoiceDate as UK local time.
 */
export function parseRetailLine(
  cells: string[],
  header: Header<RetailColumn>,
  ctx: ImportContext,
  toUtc: (text: string) => Date | null,
): RowResult<RetailLine> {
  if (cells.length !== header.width) {
    return malformed('wrong_field_count', `expected ${header.width} fields as in the header, got ${cells.length}`);
  }
  const cell = (c: (typeof REQUIRED)[number]) => cells[header.index[c]!]!.trim();
  const rawCustomer = cell('CustomerID');
  if (rawCustomer === '') return ruleSkip('missing_customer_id', 'no CustomerID');
  const invoiceNo = cell('InvoiceNo');
  if (invoiceNo.startsWith('C')) return ruleSkip('cancelled_invoice', `invoice ${invoiceNo} is a cancellation`);
  if (invoiceNo.startsWith('A')) return ruleSkip('adjustment_invoice', `invoice ${invoiceNo} is an adjustment`);
  const quantity = cell('Quantity');
  if (!INTEGER.test(quantity)) return malformed('invalid_quantity', `Quantity: must be a whole number, got "${quantity}"`);
  if (Number(quantity) <= 0) return ruleSkip('non_positive_quantity', `Quantity is ${quantity}`);
  const unitPrice = cell('UnitPrice');
  if (!DECIMAL.test(unitPrice)) return malformed('invalid_unit_price', `UnitPrice: must be a decimal number, got "${unitPrice}"`);
  if (Number(unitPrice) <= 0) return ruleSkip('non_positive_unit_price', `UnitPrice is ${unitPrice}`);

  const customerId = rawCustomer.replace(FLOAT_ID, '$1');
  const sku = cell('StockCode');
  const country = cell('Country');
  const price = item.unit_price.safeParse(unitPrice.replace(/^\+/, ''));
  const checks = [
    ['order_id', fields.order_id.safeParse(invoiceNo)],
    ['customer_id', fields.customer_id.safeParse(customerId)],
    ['sku', item.sku.safeParse(sku || undefined)],
    ['quantity', item.quantity.safeParse(Number(quantity))],
    ['unit_price', price],
    ['region', fields.region.safeParse(country || undefined)],
  ] as const;
  const issues = checks.flatMap(([field, r]) => (r.success ? [] : r.error.issues.map((i) => ({ ...i, path: [field] }))));
  if (issues.length > 0 || !price.success) return fieldProblems(issues, (f) => COLUMN_OF[f] ?? f);

  const rawDate = cell('InvoiceDate');
  const occurredAt = toUtc(rawDate);
  if (occurredAt === null) {
    return malformed('invalid_invoice_date', `InvoiceDate: must be a UK local time as YYYY-MM-DD HH:MM:SS, got "${rawDate}"`);
  }
  const iso = occurredAt.toISOString();
  const future = semanticProblems([{ type: 'order', occurred_at: iso }], { receivedAt: ctx.now, currency: ctx.currency, pathPrefix: '' });
  if (future.length > 0) return malformed('invalid_invoice_date', `InvoiceDate: ${future[0]!.message}`);
  return {
    ok: true,
    value: {
      eventId: importEventId(customerId, invoiceNo),
      customerId,
      invoiceNo,
      occurredAt: iso,
      sku: sku === '' ? null : sku,
      quantity: Number(quantity),
      unitPrice: price.data as string,
      region: country === '' ? null : country,
    },
  };
}
