import { orderEvent, orderItem } from '../events/events.schemas.ts';
import { MAX_FUTURE_MS } from '../events/field-problem.ts';
import { createUkTimeReader } from './import.uk-time.ts';
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

// The UCI Online Retail columns (docs/architecture.md, Import formats). One row is one invoice line; Description is not read.
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
const VALID = { success: true } as const;

/** The columns checked by the API's schemas, in the order of the checks below. */
const CHECKED: RetailColumn[] = ['InvoiceNo', 'CustomerID', 'StockCode', 'Quantity', 'UnitPrice', 'Country'];

export function readRetailHeader(cells: string[]): HeaderResult<RetailColumn> {
  return readHeader<RetailColumn>(cells, { required: REQUIRED, optional: OPTIONAL, strict: false });
}

/**
 * A reader of invoice lines for one file. It applies the Online Retail rules in the documented order (docs/architecture.md, Import formats) (no
 * CustomerID, invoice starting with C or A, Quantity ≤ 0, UnitPrice ≤ 0: each skips the line under
 * its own reason), then validates what is left with the API's field schemas. InvoiceDate is UK
 * local time. Column positions, the date and the event id of the previous line are kept, since an
 * invoice's lines mostly follow each other.
 */
export function createRetailLineReader(header: Header<RetailColumn>, ctx: ImportContext): (cells: string[]) => RowResult<RetailLine> {
  const toUtc = createUkTimeReader();
  const latest = ctx.now.getTime() + MAX_FUTURE_MS;
  const at = (c: (typeof REQUIRED)[number]) => header.index[c]!;
  const [iInvoice, iSku, iQuantity, iDate, iPrice, iCustomer, iCountry] = REQUIRED.map(at) as number[] as [number, number, number, number, number, number, number];
  let last = { date: '', iso: '', customer: '', invoice: '', country: '', eventId: '' };
  return (cells) => {
    if (cells.length !== header.width) {
      return malformed('wrong_field_count', `expected ${header.width} fields as in the header, got ${cells.length}`);
    }
    const rawCustomer = cells[iCustomer]!.trim();
    if (rawCustomer === '') return ruleSkip('missing_customer_id', 'no CustomerID');
    const invoiceNo = cells[iInvoice]!.trim();
    if (invoiceNo.startsWith('C')) return ruleSkip('cancelled_invoice', `invoice ${invoiceNo} is a cancellation`);
    if (invoiceNo.startsWith('A')) return ruleSkip('adjustment_invoice', `invoice ${invoiceNo} is an adjustment`);
    const quantity = cells[iQuantity]!.trim();
    if (!INTEGER.test(quantity)) return malformed('invalid_quantity', `Quantity: must be a whole number, got "${quantity}"`);
    if (Number(quantity) <= 0) return ruleSkip('non_positive_quantity', `Quantity is ${quantity}`);
    const unitPrice = cells[iPrice]!.trim();
    if (!DECIMAL.test(unitPrice)) return malformed('invalid_unit_price', `UnitPrice: must be a decimal number, got "${unitPrice}"`);
    if (Number(unitPrice) <= 0) return ruleSkip('non_positive_unit_price', `UnitPrice is ${unitPrice}`);

    const customerId = rawCustomer.replace(FLOAT_ID, '$1');
    const sku = cells[iSku]!.trim();
    const country = cells[iCountry]!.trim();
    // The invoice, customer and country of the previous line were valid: no need to check them again.
    const sameInvoice = invoiceNo === last.invoice && customerId === last.customer && country === last.country;
    const checks = [
      sameInvoice ? VALID : fields.order_id.safeParse(invoiceNo),
      sameInvoice ? VALID : fields.customer_id.safeParse(customerId),
      item.sku.safeParse(sku || undefined),
      item.quantity.safeParse(Number(quantity)),
      item.unit_price.safeParse(unitPrice.replace(/^\+/, '')),
      sameInvoice ? VALID : fields.region.safeParse(country || undefined),
    ] as const;
    if (!checks.every((r) => r.success)) {
      const issues = checks.flatMap((r, i) => (r.success ? [] : r.error.issues.map((issue) => ({ ...issue, path: [CHECKED[i]!] }))));
      return fieldProblems(issues, (f) => f);
    }

    const rawDate = cells[iDate]!.trim();
    if (rawDate !== last.date) {
      const occurredAt = toUtc(rawDate);
      if (occurredAt === null) {
        return malformed('invalid_invoice_date', `InvoiceDate: must be a UK local time as YYYY-MM-DD HH:MM:SS, got "${rawDate}"`);
      }
      if (occurredAt.getTime() > latest) return malformed('invalid_invoice_date', 'InvoiceDate: is more than 5 minutes in the future');
      last = { ...last, date: rawDate, iso: occurredAt.toISOString() };
    }
    if (!sameInvoice) last = { ...last, customer: customerId, invoice: invoiceNo, country, eventId: importEventId(customerId, invoiceNo) };
    return {
      ok: true,
      value: {
        eventId: last.eventId,
        customerId,
        invoiceNo,
        occurredAt: last.iso,
        sku: sku === '' ? null : sku,
        quantity: Number(quantity),
        unitPrice: checks[4].data as string,
        region: country === '' ? null : country,
      },
    };
  };
}
