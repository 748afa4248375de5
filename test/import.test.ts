import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMoney, money, moneyString, ZERO } from '../src/domain/money.ts';
import { importFile } from '../src/services/import.service.ts';
import { refreshAndRescore } from '../src/services/rescore.service.ts';
import { auth, eventually, runCli, settle, startService, type TestService } from './harness.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const RETAIL = fixture('online-retail-excerpt.csv');
const NATIVE = fixture('native-orders.csv');

/** The Online Retail rules of docs/architecture.md, Import formats, as a plain reduction over the fixture: revenue per invoice and per customer. */
async function expectedRetail() {
  const rows: Record<string, string>[] = parse(await readFile(RETAIL), { columns: true });
  const invoices = new Map<string, { customer: string; amount: ReturnType<typeof money>; lines: number }>();
  for (const r of rows) {
    if (r.CustomerID === '' || /^[CA]/.test(r.InvoiceNo!) || Number(r.Quantity) <= 0 || Number(r.UnitPrice) <= 0) continue;
    const customer = String(Number(r.CustomerID));
    const invoice = invoices.get(r.InvoiceNo!) ?? { customer, amount: ZERO, lines: 0 };
    invoices.set(r.InvoiceNo!, { customer, amount: invoice.amount.plus(money(r.UnitPrice!).times(r.Quantity!)), lines: invoice.lines + 1 });
  }
  const customers = new Map<string, ReturnType<typeof money>>();
  for (const { customer, amount } of invoices.values()) customers.set(customer, (customers.get(customer) ?? ZERO).plus(amount));
  return { rows: rows.length, invoices, customers };
}

describe('tierwise import', () => {
  let svc: TestService;
  let dir: string;
  let env: Record<string, string>;
  const count = async (table: 'events' | 'customers') =>
    (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)}`)).rows[0]!.n;
  const customer = async (id: string) => (await svc.app.inject({ method: 'GET', url: `/v1/customers/${id}`, headers: auth() })).json();

  beforeAll(async () => {
    svc = await startService();
    dir = await mkdtemp(join(tmpdir(), 'tierwise-import-'));
    const { DATABASE_URL, REDIS_URL, QUEUE_PREFIX } = svc.config;
    env = { DATABASE_URL, REDIS_URL, QUEUE_PREFIX, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await svc?.close();
  });

  it('imports the Online Retail excerpt (gzipped) from the command line: the expected customers, orders and revenue, scored', async () => {
    const expected = await expectedRetail();
    const gz = join(dir, 'retail.csv.gz');
    await writeFile(gz, gzipSync(await readFile(RETAIL)));
    const run = await runCli(['import', gz, '--format', 'online-retail', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/import: 100% read/); // plain progress lines without a terminal
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      rows_read: expected.rows,
      orders: expected.invoices.size,
      orders_imported: expected.invoices.size,
      duplicates: 0,
      customers_created: expected.customers.size,
      skipped: { total: 30, by_reason: { missing_customer_id: 21, cancelled_invoice: 8, non_positive_unit_price: 1 } },
      problems: [],
      rescore: { customers: expected.customers.size },
    });
    // 34 invoices of 25 customers, £7,204.67 in all (checked by hand against the file as well).
    expect([expected.invoices.size, expected.customers.size, moneyString([...expected.customers.values()].reduce((a, b) => a.plus(b)))]).toEqual([34, 25, '7204.67']);

    const stored = await svc.deps.db.execute<{ order_id: string; customer_id: string; amount: string; items: number; occurred_at: string }>(sql`
      select order_id, customer_id, data ->> 'amount' as amount, jsonb_array_length(data -> 'items')::int as items,
        to_char(occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"') as occurred_at
      from events where type = 'order'`);
    expect(stored.rows).toHaveLength(expected.invoices.size);
    for (const row of stored.rows) {
      const invoice = expected.invoices.get(row.order_id)!;
      expect([row.customer_id, moneyString(row.amount), row.items], row.order_id).toEqual([invoice.customer, moneyString(invoice.amount), invoice.lines]);
    }
    const byId = new Map(stored.rows.map((r) => [r.order_id, r]));
    // 536365: seven lines, £139.12. 542806: its lines are split by the cancellation C542805, yet one order of £389.43.
    expect(moneyString(byId.get('536365')!.amount)).toBe('139.12');
    expect(moneyString(byId.get('542806')!.amount)).toBe('389.43');
    // UK local time: 10:16 on 27 March 2011 is BST (UTC+1), 08:26 on 1 December 2010 is GMT.
    expect(byId.get('547834')!.occurred_at).toBe('2011-03-27T09:16Z');
    expect(byId.get('536365')!.occurred_at).toBe('2010-12-01T08:26Z');

    for (const [id, revenue] of expected.customers) {
      const c = await customer(id);
      expect([c.metrics?.net_revenue, c.tier !== null, c.scores !== null], id).toEqual([formatMoney(revenue, 2), true, true]);
    }
    expect((await customer('17850')).metrics.order_count).toBe([...expected.invoices.values()].filter((i) => i.customer === '17850').length);
  });

  it('adds nothing when the same file is imported again', async () => {
    const [events, customers] = [await count('events'), await count('customers')];
    const again = await importFile(svc.deps, { file: RETAIL, format: 'online-retail' });
    expect(again).toMatchObject({ orders: 34, orders_imported: 0, duplicates: 34, customers_created: 0 });
    expect([await count('events'), await count('customers')]).toEqual([events, customers]);
  });

  it('imports native rows, skipping bad ones by line and reason, and treats an order sent through the API as a duplicate', async () => {
    const api = await svc.app.inject({
      method: 'POST', url: '/v1/events', headers: auth(),
      payload: { id: 'api-1', type: 'order', customer_id: 'ana', occurred_at: '2025-01-05T10:00:00Z', order_id: 'A-1', amount: '999' },
    });
    expect(api.statusCode).toBe(202);
    await settle(svc, (await count('events')) + 1);

    const report = await importFile(svc.deps, { file: NATIVE, format: 'native' });
    expect(report).toMatchObject({
      rows_read: 14,
      rows_accepted: 8,
      // A-1 was sent through the API; B-1 appears twice in the file (the first row wins).
      orders_imported: 6,
      duplicates: 2,
      customers_created: 3,
      blank_lines: 1,
      skipped: { total: 6, by_reason: { invalid_csv: 2, invalid_amount: 1, invalid_channel: 1, invalid_occurred_at: 1, wrong_field_count: 1 } },
    });
    expect(report.problems.map((p) => [p.line, p.to_line, p.reason])).toEqual([
      [10, undefined, 'invalid_amount'],
      [11, undefined, 'invalid_occurred_at'],
      [12, undefined, 'invalid_channel'],
      [13, undefined, 'wrong_field_count'],
      // A broken quote on line 16 takes the parser to the end of the file: both lines are reported.
      [16, 17, 'invalid_csv'],
    ]);
    expect(report.problems[0]!.message).toBe('amount: must be a non-negative decimal with at most 4 decimals and 15 digits before the point');

    const event = (await svc.app.inject({ method: 'GET', url: '/v1/events/import:ben:B-2', headers: auth() })).json();
    expect(event).toMatchObject({
      type: 'order', customer_id: 'ben', order_id: 'B-2', amount: '45.25', discount_amount: '5.25', channel: 'online', region: 'US',
      items: [{ category: 'hats, caps' }], occurred_at: '2025-04-01T05:00:00.000Z', properties: null,
    });
    await refreshAndRescore(svc.deps);
    // Revenue by hand: ana 999 (API) + 80 + 19.9999; ben 300.00 (first B-1) + 45.25; dee 70.10 (D-3, region "North\nEast").
    const expected: [string, string | undefined, number | undefined][] = [
      ['ana', '1098.9999', 3],
      ['ben', '345.25', 2],
      ['dee', '70.10', 1],
      ['cy', '0.00', 0], // one order of 0: not counted, a prospect
    ];
    for (const [id, revenue, orders] of expected) {
      const c = await customer(id);
      expect([c.metrics?.net_revenue, c.metrics?.order_count], id).toEqual([revenue, orders]);
      expect(c.tier === null, id).toBe(orders === 0);
    }
    const again = await importFile(svc.deps, { file: NATIVE, format: 'native' });
    expect(again).toMatchObject({ orders_imported: 0, duplicates: 8 });
  });

  it('stores native rows in batches while reading, keeping the first row of an order that appears in two batches', async () => {
    const file = join(dir, 'batches.csv');
    const rows = Array.from({ length: 40 }, (_, i) => `batcher,B-${i},2025-01-01T00:00:${String(i).padStart(2, '0')}Z,${i + 1}`);
    await writeFile(file, ['customer_id,order_id,occurred_at,amount', ...rows, 'batcher,B-0,2025-02-01T00:00:00Z,500'].join('\n'));
    // About 100 bytes of COPY text per row: a batch every 5 rows or so.
    const report = await importFile(svc.deps, { file, format: 'native', batchBytes: 500 });
    expect(report).toMatchObject({ rows_read: 41, orders: 41, orders_imported: 40, duplicates: 1, customers_created: 1 });
    const { rows: [first] } = await svc.deps.db.execute<{ amount: string }>(sql`select data ->> 'amount' as amount from events where id = 'import:batcher:B-0'`);
    expect(first!.amount).toBe('1');
    expect((await importFile(svc.deps, { file, format: 'native', batchBytes: 500 })).orders_imported).toBe(0);
  });

  it('stages the batch that meets an order stored already and every batch after it, storing the rest', async () => {
    const earlier = join(dir, 'midway-earlier.csv');
    await writeFile(earlier, 'customer_id,order_id,occurred_at,amount\nmidway,M-12,2025-01-01T00:00:00Z,999\n');
    expect(await importFile(svc.deps, { file: earlier, format: 'native' })).toMatchObject({ orders_imported: 1, customers_created: 1 });
    const file = join(dir, 'midway.csv');
    const rows = Array.from({ length: 40 }, (_, i) => `midway,M-${i},2025-01-01T00:00:${String(i).padStart(2, '0')}Z,${i + 1}`);
    await writeFile(file, ['customer_id,order_id,occurred_at,amount', ...rows, 'midway-late,L-1,2025-03-01T00:00:00Z,7'].join('\n'));
    const report = await importFile(svc.deps, { file, format: 'native', batchBytes: 500 });
    expect(report).toMatchObject({ rows_read: 41, orders: 41, orders_imported: 40, duplicates: 1, customers_created: 1 });
    const { rows: stored } = await svc.deps.db.execute<{ n: number; amount: string }>(
      sql`select count(*)::int as n, min(data ->> 'amount') filter (where order_id = 'M-12') as amount from events where customer_id like 'midway%'`,
    );
    expect(stored[0]).toEqual({ n: 41, amount: '999' });
  });

  it('keeps the first copy when the API stores the same order while the import is storing it', async () => {
    const file = join(dir, 'race.csv');
    await writeFile(file, 'customer_id,order_id,occurred_at,amount\nracer,R-1,2025-01-01T00:00:00Z,10\nracer,R-2,2025-01-02T00:00:00Z,20\n');
    // Another writer (as the ingest worker does) holds an uncommitted copy of R-1.
    const other = await svc.deps.pool.connect();
    try {
      await other.query('begin');
      await other.query(`insert into customers (id) values ('racer')`);
      await other.query(`insert into events (id, customer_id, type, occurred_at, received_at, order_id, data)
        values ('api-race', 'racer', 'order', now(), now(), 'R-1', '{"order_id":"R-1","amount":"99"}')`);
      const importing = importFile(svc.deps, { file, format: 'native' });
      await eventually(async () => {
        const { rows } = await svc.deps.pool.query(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
        return rows.length > 0 ? true : undefined;
      }, 10_000, 'the import to wait for the other writer');
      await other.query('commit');
      expect(await importing).toMatchObject({ orders: 2, orders_imported: 1, duplicates: 1, customers_created: 0 });
    } finally {
      other.release();
    }
    const amounts = await svc.deps.db.execute<{ order_id: string; amount: string }>(
      sql`select order_id, data ->> 'amount' as amount from events where customer_id = 'racer' order by order_id`,
    );
    expect(amounts.rows).toEqual([{ order_id: 'R-1', amount: '99' }, { order_id: 'R-2', amount: '20' }]);
  });

  it('refuses a file that is not in the format, naming the missing columns, and stores nothing', async () => {
    const events = await count('events');
    const run = await runCli(['import', NATIVE, '--format', 'online-retail'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/not an Online Retail file: the header lacks the required column\(s\) InvoiceNo, StockCode/);
    await expect(importFile(svc.deps, { file: join(dir, 'missing.csv'), format: 'native' })).rejects.toThrow(/ENOENT/);
    expect(await count('events')).toBe(events);
  });
});
