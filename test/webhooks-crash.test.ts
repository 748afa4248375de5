import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, spawnWorker, startService, type TestService } from './harness.ts';
import { startReceiver } from './receiver.ts';

const CUSTOMERS = 40;

describe('a worker killed while changes are being announced', () => {
  let svc: TestService;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // A slow receiver widens the window between a delivery and its bookkeeping.
    receiver = await startReceiver(() => ({ status: 200, delayMs: 100 }));
    svc = await startService({ workers: false, config: { WEBHOOK_ALLOW_PRIVATE_TARGETS: true } });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await svc?.close();
    await receiver?.close();
  });

  function startWorker(): ChildProcess {
    const child = spawnWorker(svc.config, { WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true', WEBHOOK_RELAY_INTERVAL_MS: '100' });
    children.push(child);
    return child;
  }

  const count = async (query: ReturnType<typeof sql>) => (await svc.deps.db.execute<{ n: number }>(query)).rows[0]!.n;

  it('loses no change: every history row is delivered at least once, under one webhook-id', async () => {
    const created = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: receiver.url('/all'), events: ['*'] }, headers: auth() });
    expect(created.statusCode).toBe(201);
    for (let i = 0; i < CUSTOMERS; i++) {
      const res = await svc.app.inject({
        method: 'POST', url: '/v1/events', headers: auth(),
        payload: { id: `kc-${i}`, type: 'order', customer_id: `kc-${i}`, occurred_at: new Date(Date.now() - 86_400_000).toISOString(), order_id: 'o', amount: `${10 + i}` },
      });
      expect(res.statusCode).toBe(202);
    }
    const first = startWorker();
    await eventually(async () => (receiver.received.length >= 5 ? true : undefined), 30_000, 'first deliveries');
    first.kill('SIGKILL');
    const atKill = receiver.received.length;

    startWorker();
    await eventually(
      async () => {
        const changes = await count(sql`select count(*)::int as n from customer_history`);
        const delivered = await count(sql`select count(*)::int as n from webhook_deliveries where status = 'succeeded'`);
        const recomputed = await count(sql`select count(*)::int as n from customers where computed_at is not null`);
        return recomputed === CUSTOMERS && changes > 0 && delivered === changes ? true : undefined;
      },
      60_000,
      'every change delivered',
    );
    const messages = (await svc.deps.db.execute<{ id: string }>(sql`select id from webhook_messages order by id`)).rows.map((r) => r.id);
    const changes = await count(sql`select count(*)::int as n from customer_history`);
    expect(messages).toHaveLength(changes);
    const receivedIds = new Set(receiver.received.map((r) => r.headers['webhook-id']));
    expect([...receivedIds].sort()).toEqual(messages);
    expect(atKill).toBeLessThan(changes);
    // Each body is the message announced under that id, whichever attempt carried it.
    for (const r of receiver.received) expect(JSON.parse(r.body).id).toBe(r.headers['webhook-id']);
  });
});
