import { spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, spawnWorker, startService, type TestService } from './harness.ts';
import { countDirty } from '../src/queues/recompute.dirty.ts';

const BIN = fileURLToPath(new URL('../bin/tierwise.js', import.meta.url));

describe('worker processes serving a selection of queues', () => {
  let svc: TestService;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    svc = await startService({ workers: false });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await svc?.close();
  });

  const start = (env: Record<string, string>, args: string[] = []) => children.push(spawnWorker(svc.config, env, args));
  const customerRows = async () =>
    (await svc.deps.db.execute<{ id: string; order_count: number }>(sql`select id, order_count from customers order by id`)).rows;

  it('stores events in an ingest-only process and recomputes them in another', async () => {
    const events = ['a', 'b', 'c'].flatMap((c) =>
      [1, 2].map((n) => ({ id: `q-${c}-${n}`, type: 'order', customer_id: `cust-${c}`, occurred_at: '2026-06-01T00:00:00Z', order_id: `o-${c}-${n}`, amount: '10.00' })),
    );
    const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() });
    expect(res.statusCode).toBe(202);

    start({}, ['--queues', 'ingest']);
    await eventually(async () => {
      const n = (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int n from events`)).rows[0]!.n;
      return n === events.length ? true : undefined;
    }, 30_000, 'the ingest-only worker to store every event');
    // Nothing serves the recompute queue yet: the customers wait, stored but not derived, and the
    // ingest-only process declared none of the maintenance schedulers.
    await eventually(async () => ((await countDirty(svc.deps.redis, svc.config.QUEUE_PREFIX)) === 3 ? true : undefined), 30_000, 'recomputes requested');
    expect(await customerRows()).toEqual(['a', 'b', 'c'].map((c) => ({ id: `cust-${c}`, order_count: 0 })));
    expect(await svc.deps.queues.recompute.getWaitingCount()).toBeGreaterThan(0);
    expect(await svc.deps.queues.maintenance.getJobSchedulers()).toEqual([]);

    start({ WORKER_QUEUES: 'recompute,maintenance' });
    await eventually(async () => {
      const rows = await customerRows();
      return rows.every((r) => r.order_count === 2) ? rows : undefined;
    }, 30_000, 'the recompute process to derive every customer');
    await eventually(async () => ((await countDirty(svc.deps.redis, svc.config.QUEUE_PREFIX)) === 0 ? true : undefined), 30_000, 'no customer left waiting');
    const schedulers = await svc.deps.queues.maintenance.getJobSchedulers();
    expect(schedulers.map((s) => s.key).sort()).toEqual(['fit-model', 'purge-outbox', 'refresh-stats', 'sweep']);
    // The relay is not among the queues of either process, so its scheduler was never declared.
    expect(await svc.deps.queues.relay.getJobSchedulers()).toEqual([]);
  });

  it('refuses an unknown queue, from the flag or the environment', () => {
    const env = { ...process.env, DATABASE_URL: svc.config.DATABASE_URL, REDIS_URL: svc.config.REDIS_URL, QUEUE_PREFIX: svc.config.QUEUE_PREFIX };
    const flag = spawnSync(process.execPath, [BIN, 'worker', '--queues', 'ingest,billing'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(flag.status).toBe(2);
    expect(flag.stderr).toContain('ingest, recompute, maintenance, relay, webhooks');
    const fromEnv = spawnSync(process.execPath, [BIN, 'worker'], { env: { ...env, WORKER_QUEUES: 'billing' }, encoding: 'utf8', timeout: 30_000 });
    expect(fromEnv.status).toBe(78);
    expect(fromEnv.stderr).toContain('WORKER_QUEUES');
  });
});
