import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, settle, startService, type TestService } from './harness.ts';
import { upsertSegment } from '../src/store/segments.repo.ts';
import { insertMessages } from '../src/store/webhooks.repo.ts';
import { startReceiver } from './receiver.ts';

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

describe('erasure and the webhook outbox', () => {
  let svc: TestService;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    // /ok takes everything; /down answers 503, so its deliveries stay pending with failed attempts.
    receiver = await startReceiver((req) => ({ status: req.path === '/ok' ? 200 : 503 }));
    // A long relay interval: a message written straight into the outbox stays there, not fanned out.
    svc = await startService({ config: { WEBHOOK_ALLOW_PRIVATE_TARGETS: true, WEBHOOK_RELAY_INTERVAL_MS: 3_600_000 } });
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  /** Per customer: outbox messages (and how many not fanned out), deliveries by status, attempts. */
  const outbox = async (customer: string) =>
    (
      await svc.deps.db.execute<{ messages: number; unfanned: number; pending: number; succeeded: number; attempts: number; mentions: number }>(sql`
        with m as (select * from webhook_messages where (body::jsonb -> 'data' ->> 'customer_id') = ${customer})
        select (select count(*)::int from m) as messages,
          (select count(*)::int from m where fanned_out_at is null) as unfanned,
          (select count(*)::int from webhook_deliveries d join m on m.id = d.message_id where d.status <> 'succeeded') as pending,
          (select count(*)::int from webhook_deliveries d join m on m.id = d.message_id where d.status = 'succeeded') as succeeded,
          (select count(*)::int from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id join m on m.id = d.message_id where d.status <> 'succeeded') as attempts,
          (select count(*)::int from webhook_messages where body like ${`%${customer}%`}) as mentions`)
    ).rows[0]!;

  it('purges the messages not yet delivered, with their deliveries and attempts, and keeps what was delivered', async () => {
    for (const path of ['/ok', '/down']) {
      const res = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url(path), events: ['*'] }, headers: auth() });
      expect(res.statusCode).toBe(201);
    }
    const order = (customer: string) => ({
      id: `${customer}-o1`, type: 'order', customer_id: customer, occurred_at: new Date(Date.now() - 86_400_000).toISOString(), order_id: `${customer}-1`, amount: '20.00',
    });
    const events = [order('wh-gone'), order('wh-kept')];
    expect((await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() })).statusCode).toBe(202);
    await settle(svc, events.length);
    // Delivered to /ok, pending to /down after a failed first attempt, for both customers.
    for (const customer of ['wh-gone', 'wh-kept']) {
      await eventually(async () => {
        const o = await outbox(customer);
        return o.messages > 0 && o.succeeded === o.messages && o.pending === o.messages && o.attempts >= o.messages ? true : undefined;
      }, 30_000, `${customer}'s deliveries`);
    }
    // No relay pass from here on: each failed retry to /down nudges the relay, which would fan the
    // message below out before it is looked at.
    await svc.deps.queues.relay.pause();
    await eventually(async () => ((await svc.deps.queues.relay.getActiveCount()) === 0 ? true : undefined), 10_000, 'the relay to be idle');
    // And one message still waiting in the outbox.
    await insertMessages(svc.deps.db, [
      { id: 'evt_pending_gone', type: 'customer.tier_changed', body: JSON.stringify({ id: 'evt_pending_gone', data: { customer_id: 'wh-gone', tier: 'x' } }), createdAt: new Date() },
    ]);
    const gone = await outbox('wh-gone');
    expect(gone.unfanned).toBe(1);
    const keptBefore = await outbox('wh-kept');

    expect((await svc.app.inject({ method: 'DELETE', url: '/v1/customers/wh-gone', headers: auth() })).statusCode).toBe(204);

    const after = await outbox('wh-gone');
    // Only the messages /ok already received remain, each with its one successful delivery.
    expect(after).toMatchObject({ messages: gone.succeeded, unfanned: 0, pending: 0, attempts: 0, succeeded: gone.succeeded });
    const orphans = await svc.deps.db.execute<{ n: number }>(sql`
      select count(*)::int as n from webhook_attempts a where not exists (select 1 from webhook_deliveries d where d.id = a.delivery_id)`);
    expect(orphans.rows[0]!.n).toBe(0);
    expect(await outbox('wh-kept')).toEqual(keptBefore);
  });
});
