import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, startService, type TestService } from './harness.ts';
import { processIngest } from '../src/workers/ingest.worker.ts';

describe('single events sent at the same time', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ workers: false });
  });
  afterAll(async () => svc?.close());

  it('share ingest jobs, and every one is stored once', async () => {
    const events = Array.from({ length: 40 }, (_, i) => ({
      id: `same-tick-${i}`, type: 'order', customer_id: `c-${i % 7}`, occurred_at: '2026-05-01T00:00:00Z', order_id: `o-${i}`, amount: '5.00',
    }));
    const answers = await Promise.all(events.map((payload) => svc.app.inject({ method: 'POST', url: '/v1/events', payload, headers: auth() })));
    expect(answers.map((a) => a.statusCode)).toEqual(events.map(() => 202));
    const jobs = await svc.deps.queues.ingest.getJobs(['waiting']);
    expect(jobs.length).toBeLessThan(events.length);
    expect(jobs.flatMap((j) => j.data.events.map((e) => e.id)).sort()).toEqual(events.map((e) => e.id).sort());
    for (const job of jobs) await processIngest(svc.deps, job);
    const stored = await svc.deps.db.execute<{ n: number; customers: number }>(
      sql`select count(*)::int as n, count(distinct customer_id)::int as customers from events where id like 'same-tick-%'`,
    );
    expect(stored.rows[0]).toEqual({ n: events.length, customers: 7 });
  });
});
