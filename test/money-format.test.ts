// One money format in every answer: at least the currency's minor-unit digits, more only where the
// stored value has them (formatMoney in src/domain/money.ts, moneyText where Postgres writes JSON).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, settle, startService, type TestService } from './harness.ts';
import { formatMoney } from '../src/domain/money.ts';
import { moneyText } from '../src/store/money.sql.ts';
import { upsertSegment } from '../src/store/segments.repo.ts';

const order = (customer: string, n: number, amount: string) => ({
  id: `${customer}-e${n}`, type: 'order', customer_id: customer, occurred_at: new Date(Date.now() - n * 86_400_000).toISOString(),
  order_id: `${customer}-o${n}`, amount,
});

describe('money in the API', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => svc?.close());

  it('Postgres writes money exactly as formatMoney does', async () => {
    const values = ['0', '0.0000', '129.9', '220.5000', '0.125', '12.3456', '-3', '1000000000000.01', '7.1'];
    for (const digits of [0, 2, 3]) {
      const rows = await svc.deps.db.execute<{ v: string; f: string }>(
        sql`select v, ${moneyText(sql`v`, digits)} as f from unnest(${`{${values.join(',')}}`}::numeric(24,4)[]) as v`,
      );
      for (const row of rows.rows) expect(row.f, `${row.v} with ${digits} digits`).toBe(formatMoney(row.v, digits));
    }
    const nulls = await svc.deps.db.execute<{ f: string | null }>(sql`select ${moneyText(sql`null`, 2)} as f`);
    expect(nulls.rows[0]!.f).toBeNull();
  });

  it('customer metrics, reports and segment exports share one format (USD: two decimals, more when stored)', async () => {
    await upsertSegment(svc.deps.db, { key: 'buyers', name: 'Buyers', rule: { field: 'order_count', op: 'gte', value: 1 } }, new Date());
    const events = [order('a', 1, '129.9'), order('b', 1, '90.6'), order('c', 1, '0.125'), order('c', 2, '10')];
    expect((await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() })).statusCode).toBe(202);
    await settle(svc, events.length);
    await eventually(async () => ((await svc.app.inject({ url: '/v1/segments/buyers/export?format=ndjson', headers: auth() })).body.trim().split('\n').length === 3 ? true : undefined), 30_000, 'membership');

    const customer = (await svc.app.inject({ url: '/v1/customers/a', headers: auth() })).json();
    expect(customer.metrics).toMatchObject({ net_revenue: '129.90', avg_order_value: '129.90', revenue_365d: '129.90' });
    const c = (await svc.app.inject({ url: '/v1/customers/c', headers: auth() })).json();
    expect(c.metrics).toMatchObject({ net_revenue: '10.125', revenue_365d: '10.125' });
    const listed = (await svc.app.inject({ url: '/v1/customers?sort=id', headers: auth() })).json();
    expect(listed.items.map((i: any) => i.metrics.net_revenue)).toEqual(['129.90', '90.60', '10.125']);

    const summary = (await svc.app.inject({ url: '/v1/reports/summary', headers: auth() })).json();
    expect(summary.net_revenue).toBe('230.625');
    expect(summary.at_risk.net_revenue).toBe('0.00');
    for (const group of summary.by_tier) expect(group.net_revenue).toMatch(/^\d+\.\d{2,4}$/);
    const grid = (await svc.app.inject({ url: '/v1/reports/rfm-grid', headers: auth() })).json();
    expect(grid.cells.find((cell: any) => cell.customers === 0).net_revenue).toBe('0.00');
    const atRisk = (await svc.app.inject({ url: '/v1/reports/at-risk', headers: auth() })).json();
    expect(atRisk.net_revenue).toBe('0.00');

    const ndjson = (await svc.app.inject({ url: '/v1/segments/buyers/export?format=ndjson', headers: auth() })).body.trim().split('\n').map((l) => JSON.parse(l));
    expect(ndjson.map((r) => r.net_revenue)).toEqual(['129.90', '90.60', '10.125']);
    const csv = (await svc.app.inject({ url: '/v1/segments/buyers/export?format=csv', headers: auth() })).body;
    expect(csv).toContain(',129.90,');
  });
});
