import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, spawnWorker, startService, type TestService } from './harness.ts';

const BATCHES = 40;
const PER_BATCH = 250;

describe('a worker killed mid-ingest', () => {
  let svc: TestService;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // The API runs here; the workers run as separate processes we can kill.
    svc = await startService({ workers: false });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await svc?.close();
  });

  function startWorker(): ChildProcess {
    const child = spawnWorker(svc.config);
    children.push(child);
    return child;
  }

  const storedCount = async () => (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int n from events`)).rows[0]!.n;

  it('loses no accepted event and stores none twice', async () => {
    for (let b = 0; b < BATCHES; b++) {
      const events = Array.from({ length: PER_BATCH }, (_, i) => ({
        id: `crash-${b}-${i}`,
        type: 'order',
        customer_id: `c-${(b * PER_BATCH + i) % 997}`,
        occurred_at: '2026-06-01T00:00:00Z',
        order_id: `o-${b}-${i}`,
        amount: `${b}.${String(i).padStart(2, '0')}`,
      }));
      const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() });
      expect(res.statusCode).toBe(202);
    }
    const first = startWorker();
    await eventually(async () => ((await storedCount()) > 0 ? true : undefined), 30_000, 'the first worker to store something');
    first.kill('SIGKILL');
    const atKill = await storedCount();
    expect(atKill).toBeLessThan(BATCHES * PER_BATCH);

    startWorker();
    await eventually(async () => ((await storedCount()) === BATCHES * PER_BATCH ? true : undefined), 60_000, 'every event stored');
    const dupes = await svc.deps.db.execute<{ n: number }>(
      sql`select count(*)::int n from (select customer_id, order_id from events group by 1, 2 having count(*) > 1) d`,
    );
    expect(dupes.rows[0]!.n).toBe(0);
    const sample = await svc.app.inject({ method: 'GET', url: '/v1/events/crash-17-5', headers: auth() });
    expect(sample.json().amount).toBe('17.05');
    // The dead worker's jobs are taken over once their locks lapse; then nothing is left or failed.
    await eventually(async () => {
      const counts = await svc.deps.queues.ingest.getJobCounts('waiting', 'active', 'delayed', 'failed');
      return Object.values(counts).every((n) => n === 0) ? true : undefined;
    }, 30_000, 'the ingest queue to settle');
    expect(await storedCount()).toBe(BATCHES * PER_BATCH);
  });
});
