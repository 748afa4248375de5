import { z } from 'zod';
import { orderEvent, orderItem } from '../events/events.schemas.ts';
import { semanticProblems } from '../events/events.checks.ts';
import {
  fieldProblems,
  importEventId,
  malformed,
  readHeader,
  type HeaderResult,
  type ImportContext,
  type RowResult,
  type Header,
} from './import.types.ts';

// The native format (docs/architecture.md, Import formats): one order per row.
const REQUIRED = ['customer_id', 'order_id', 'occurred_at', 'amount'] as const;
const OPTIONAL = ['discount_amount', 'channel', 'region', 'category', 'currency'] as const;
export type NativeColumn = (typeof REQUIRED)[number] | (typeof OPTIONAL)[number];
const COLUMNS = [...REQUIRED, ...OPTIONAL];

/** An order as the API would store it: the same event id rules aside, the same `data` shape. */
export interface ImportedOrder {
  eventId: string;
  customerId: string;
  orderId: string;
  /** UTC, ISO 8601 */
  occurredAt: string;
  data: Record<string, unknown>;
}

// Each field is validated by the API's own schema for it, so a value the API would refuse is refused here.
const fields = orderEvent.shape;
const nativeRow = z.object({
  customer_id: fields.customer_id,
  order_id: fields.order_id,
  occurred_at: fields.occurred_at,
  amount: fields.amount,
  discount_amount: fields.discount_amount,
  channel: fields.channel,
  region: fields.region,
  category: orderItem.shape.category,
  currency: fields.currency,
});

export function readNativeHeader(cells: string[]): HeaderResult<NativeColumn> {
  return readHeader<NativeColumn>(cells, { required: REQUIRED, optional: OPTIONAL, strict: true });
}

/** A reader of rows for one file; an empty optional cell means the field is absent. */
export function createNativeRowReader(header: Header<NativeColumn>, ctx: ImportContext): (cells: string[]) => RowResult<ImportedOrder> {
  const present = COLUMNS.flatMap((column) => (header.index[column] === undefined ? [] : [[column, header.index[column]] as const]));
  const context = { receivedAt: ctx.now, currency: ctx.currency, pathPrefix: '' };
  return (cells) => {
    if (cells.length !== header.width) {
      return malformed('wrong_field_count', `expected ${header.width} fields as in the header, got ${cells.length}`);
    }
    const input: Partial<Record<NativeColumn, string>> = {};
    for (const [column, i] of present) if (cells[i] !== '') input[column] = cells[i];
    const parsed = nativeRow.safeParse(input);
    if (!parsed.success) return fieldProblems(parsed.error.issues, (f) => f);
    const row = parsed.data;
    const problems = semanticProblems([{ type: 'order', occurred_at: row.occurred_at, currency: row.currency }], context);
    if (problems.length > 0) {
      return malformed(`invalid_${problems[0]!.path}`, problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    }
    const data: Record<string, unknown> = { order_id: row.order_id, amount: row.amount };
    if (row.discount_amount !== undefined) data.discount_amount = row.discount_amount;
    if (row.channel !== undefined) data.channel = row.channel;
    if (row.region !== undefined) data.region = row.region;
    // The API carries categories on items; a row's category is one item that holds the whole order.
    if (row.category !== undefined) data.items = [{ category: row.category }];
    return {
      ok: true,
      value: {
        eventId: importEventId(row.customer_id, row.order_id),
        customerId: row.customer_id,
        orderId: row.order_id,
        occurredAt: new Date(row.occurred_at).toISOString(),
        data,
      },
    };
  };
}
