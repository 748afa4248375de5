import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, settle, startService, type TestService } from './harness.ts';
import { upsertSegment } from '../src/store/segments.repo.ts';

describe('DELETE /v1/customers/{id} (right to erasure)', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService();
  });
  afterAll(async () => {
    await svc?.close();
  });

  const count = async (table: 'events' | 'customer_history' | 'segment_members' | 'customers', id: string) =>
    (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int as n from ${sql.raw(table)} where ${sql.raw(table === 'customers' ? 'id' : 'customer_id')} = ${id}`)).rows[0]!.n;

  it('erases the customer, its events, history and membership, and leaves the others as they were', async () => {
    await upsertSegment(svc.deps.db, { key: 'buyers', name: 'Buyers', rule: { field: 'order_count', op: 'gte', value: 1 } }, new Date());
    const order = (customer: string, n: number) => ({
      id: `${customer}-e${n}`, type: 'order', customer_id: customer, occurred_at: new Date(Date.now() - n * 86_400_000).toISOString(), order_id: `${customer}-o${n}`, amount: '20.00',
    });
    const events = ['gone', 'kept'].flatMap((c) => [order(c, 1), order(c, 2)]);
    expect((await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() })).statusCode).toBe(202);
    await settle(svc, events.length);
    await eventually(async () => ((await count('segment_members', 'gone')) === 1 && (await count('customer_history', 'gone')) > 0 ? true : undefined), 30_000, 'state derived');
    const kept = async () => (await svc.app.inject({ method: 'GET', url: '/v1/customers/kept', headers: auth() })).json();
    const keptBefore = await kept();

    const reader = (await svc.app.inject({ method: 'POST', url: '/v1/api-keys', payload: { name: 'reader', scopes: ['customers:read'] }, headers: auth() })).json();
    const refused = await svc.app.inject({ method: 'DELETE', url: '/v1/customers/gone', headers: auth(reader.key) });
    expect(refused.statusCode).toBe(403);
    expect(await count('customers', 'gone')).toBe(1);

    const erased = await svc.app.inject({ method: 'DELETE', url: '/v1/customers/gone', headers: auth() });
    expect(erased.statusCode).toBe(204);
    for (const table of ['events', 'customer_history', 'segment_members', 'customers'] as const) expect(await count(table, 'gone')).toBe(0);
    expect((await svc.app.inject({ method: 'GET', url: '/v1/customers/gone', headers: auth() })).statusCode).toBe(404);
    expect((await svc.app.inject({ method: 'GET', url: '/v1/events/gone-e1', headers: auth() })).statusCode).toBe(404);
    const again = await svc.app.inject({ method: 'DELETE', url: '/v1/customers/gone', headers: auth() });
    expect(again.statusCode).toBe(404);
    expect(again.headers['content-type']).toContain('application/problem+json');

    const keptAfter = await kept();
    expect({ ...keptAfter, metrics: null }).toEqual({ ...keptBefore, metrics: null });
    expect(keptAfter.metrics.order_count).toBe(2);
  });
});
