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
    // The worker dies while the receiver holds its fifth request: that delivery happened, its
    // bookkeeping never will. Changes committed but not yet delivered are in flight too.
    let killedMidDelivery = false;
    const first = startWorker();
    receiver.setResponder(() => {
      if (receiver.received.length === 5) {
        first.kill('SIGKILL');
        killedMidDelivery = true;
      }
      return { status: 200, delayMs: 100 };
    });
    await eventually(async () => (first.exitCode !== null || first.signalCode !== null ? true : undefined), 30_000, 'the first worker to die');
    expect(killedMidDelivery).toBe(true);
    const atKill = receiver.received.length;
    const interruptedId = receiver.received[4]!.headers['webhook-id'];
    const undelivered = await count(sql`
      select count(*)::int as n from webhook_messages m
      where not exists (select 1 from webhook_deliveries d where d.message_id = m.id and d.status = 'succeeded')`);
    expect(undelivered).toBeGreaterThan(0);

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
    // The interrupted delivery was made again, under the same webhook-id.
    expect(receiver.received.filter((r) => r.headers['webhook-id'] === interruptedId).length).toBeGreaterThanOrEqual(2);
    // Each body is the message announced under that id, whichever attempt carried it.
    for (const r of receiver.received) expect(JSON.parse(r.body).id).toBe(r.headers['webhook-id']);
  });
});
