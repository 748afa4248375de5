import type { Writable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { ImportFormat } from '../domain/import/import.types.ts';
import type { ImportedOrder } from '../domain/import/import.native.ts';
import type { RetailLine } from '../domain/import/import.online-retail.ts';

// Imports go through a session-local staging table: COPY fills it at full speed without touching
// the live tables, then one transaction moves its rows into `events` set-based. Temporary tables
// vanish with the connection, so an import that dies leaves nothing behind. Native rows are COPY
// text in the columns of `events` (nativeCopyLine), so the same text can go straight into `events`
// (openEventsCopy); their staging table numbers them in file order as they arrive.
const STAGING: Record<ImportFormat, { table: string; columns: string; copied: string }> = {
  native: {
    table: 'import_orders',
    columns: `event_id text not null, customer_id text not null, type text not null, occurred_at timestamptz not null,
      received_at timestamptz not null, order_id text not null, data jsonb not null, line int generated always as identity`,
    copied: '(event_id, customer_id, type, occurred_at, received_at, order_id, data)',
  },
  'online-retail': {
    table: 'import_lines',
    columns: `line int not null, event_id text not null, customer_id text not null, invoice_no text not null,
      occurred_at timestamptz not null, sku text, quantity int not null, unit_price text not null, region text`,
    copied: '',
  },
};

/** Sorting a large import before inserting it keeps index inserts in key order; give the sort memory for it. */
const SORT_MEMORY = '256MB';

export async function createStaging(client: pg.ClientBase, format: ImportFormat): Promise<void> {
  const { table, columns } = STAGING[format];
  await client.query(`drop table if exists pg_temp.${table}`);
  await client.query(`create temporary table ${table} (${columns})`);
}

export function openStagingCopy(client: pg.ClientBase, format: ImportFormat): Writable {
  const { table, copied } = STAGING[format];
  return client.query(copyFrom(`copy pg_temp.${table} ${copied} from stdin`));
}

/** COPY of native rows (nativeCopyLine) straight into `events`; its `rowCount` is set once it has finished. */
export function openEventsCopy(client: pg.ClientBase): Writable & { rowCount: number } {
  return client.query(copyFrom('copy events (id, customer_id, type, occurred_at, received_at, order_id, data) from stdin'));
}

// COPY text format: tab-separated, \N for null, backslash escapes.
const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : value;
}

/** A native row as `events` stores it: id, customer_id, type, occurred_at, received_at (`receivedAt`, ISO 8601), order_id, data. */
export function nativeCopyLine(o: ImportedOrder, receivedAt: string): string {
  return `${copyText(o.eventId)}\t${copyText(o.customerId)}\torder\t${o.occurredAt}\t${receivedAt}\t${copyText(o.orderId)}\t${copyText(JSON.stringify(o.data))}\n`;
}

export function retailCopyLine(line: number, l: RetailLine): string {
  return `${line}\t${copyText(l.eventId)}\t${copyText(l.customerId)}\t${copyText(l.invoiceNo)}\t${l.occurredAt}\t${copyText(l.sku)}\t${l.quantity}\t${l.unitPrice}\t${copyText(l.region)}\n`;
}

export interface StoredImport {
  /** orders in the staged rows (one per row for native, one per invoice for Online Retail) */
  orders: number;
  /** of those, the ones stored now; the rest were already stored or repeated earlier in the file */
  inserted: number;
  customersCreated: number;
}

// Orders as the API stores them: type `order`, `data` with the order's fields and money as decimal strings.
// An order is new unless its event id or its (customer, order id) is stored already; within the
// file the first row of an order wins. Plain inserts of rows known to be new cost about two thirds
// of `on conflict do nothing`; that clause stays as the fallback for a race with the ingest worker.
const NEW_ORDER = `not exists (select 1 from events e where e.id = o.event_id)
  and not exists (select 1 from events e where e.type = 'order' and e.customer_id = o.customer_id and e.order_id = o.order_id)`;

const nativeInsert = (onConflict: string) => `
  with stored as (
    insert into events (id, customer_id, type, occurred_at, received_at, order_id, data)
    select distinct on (customer_id, order_id) event_id, customer_id, 'order', occurred_at, $1, order_id, data
    from pg_temp.import_orders o
    where ${NEW_ORDER}
    order by customer_id, order_id, line
    ${onConflict}
    returning 1)
  select (select count(*) from pg_temp.import_orders)::int as orders, (select count(*) from stored)::int as inserted`;

// One order per invoice: amount Σ quantity × unit_price in numeric, the first line's time and
// country, every line an item. Lines of one invoice need not be next to each other in the file.
const retailInsert = (onConflict: string) => `
  with orders as (
    select event_id, customer_id, invoice_no as order_id, min(occurred_at) as occurred_at,
      jsonb_strip_nulls(jsonb_build_object(
        'order_id', invoice_no,
        'amount', sum(quantity * unit_price::numeric)::text,
        'region', (array_agg(region order by line))[1],
        'items', jsonb_agg(jsonb_build_object('sku', sku, 'quantity', quantity, 'unit_price', unit_price) order by line)
      )) as data
    from pg_temp.import_lines
    group by event_id, customer_id, invoice_no
  ), stored as (
    insert into events (id, customer_id, type, occurred_at, received_at, order_id, data)
    select event_id, customer_id, 'order', occurred_at, $1, order_id, data
    from orders o
    where ${NEW_ORDER}
    order by customer_id, order_id
    ${onConflict}
    returning 1)
  select (select count(*) from orders)::int as orders, (select count(*) from stored)::int as inserted`;

const customersInsert = (table: string, onConflict: string) => `
  insert into customers (id)
  select distinct customer_id from pg_temp.${table} s
  where not exists (select 1 from customers c where c.id = s.customer_id)
  order by 1 ${onConflict}`;

/**
 * Creates the customers among `ids` (distinct) not stored yet, in the open transaction, and
 * returns how many; one the API stores meanwhile is left alone.
 */
export async function createCustomers(client: pg.ClientBase, ids: string[]): Promise<number> {
  const insert = (onConflict: string) =>
    client.query(
      `insert into customers (id)
      select id from unnest($1::text[]) as t(id)
      where not exists (select 1 from customers c where c.id = t.id)
      order by 1 ${onConflict}`,
      [ids],
    );
  await client.query('savepoint customers');
  try {
    return (await insert('')).rowCount ?? 0;
  } catch (err) {
    if ((err as { code?: string }).code !== '23505') throw err;
    await client.query('rollback to savepoint customers');
    return (await insert('on conflict do nothing')).rowCount ?? 0;
  }
}

/**
 * Moves the staged rows into `customers` and `events` in one transaction, as the ingest worker
 * does: missing customers are created, and every order already stored, through the API or an
 * earlier import, is left alone (the first stored copy wins).
 */
export async function storeStaged(client: pg.ClientBase, format: ImportFormat, receivedAt: Date): Promise<StoredImport> {
  const { table } = STAGING[format];
  const store = async (onConflict: string) => {
    const created = await client.query(customersInsert(table, onConflict));
    const { rows } = await client.query<{ orders: number; inserted: number }>(
      format === 'native' ? nativeInsert(onConflict) : retailInsert(onConflict),
      [receivedAt],
    );
    return { orders: rows[0]!.orders, inserted: rows[0]!.inserted, customersCreated: created.rowCount ?? 0 };
  };
  await client.query('begin');
  try {
    await client.query(`set local work_mem = '${SORT_MEMORY}'`);
    await client.query('savepoint plain');
    let stored: StoredImport;
    try {
      stored = await store('');
    } catch (err) {
      // unique_violation: the API stored one of these customers or orders meanwhile.
      if ((err as { code?: string }).code !== '23505') throw err;
      await client.query('rollback to savepoint plain');
      stored = await store('on conflict do nothing');
    }
    await client.query('commit');
    return stored;
  } catch (err) {
    await client.query('rollback').catch(() => {});
    throw err;
  }
}

export async function dropStaging(client: pg.ClientBase, format: ImportFormat): Promise<void> {
  await client.query(`drop table if exists pg_temp.${STAGING[format].table}`);
}
