// The outbox's retention (README, Webhooks): messages fanned out more than WEBHOOK_RETENTION_DAYS
// ago go with their deliveries and attempts, unless a delivery is still pending.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, manualClock, startService, type TestService } from './harness.ts';
import { processMaintenance } from '../src/workers/maintenance.worker.ts';
import { fanOutMessages } from '../src/store/webhooks.delivery.repo.ts';
import { insertMessages } from '../src/store/webhooks.repo.ts';
import type { Job } from 'bullmq';
import type { JobPayloads } from '../src/queues/queues.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 86_400_000;

describe('outbox retention', () => {
  const clock = manualClock(NOW);
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ clock, workers: false, config: { WEBHOOK_RETENTION_DAYS: 30 } });
  });
  afterAll(async () => svc?.close());

  const message = (id: string) => ({ id, type: 'customer.tier_changed', body: JSON.stringify({ id }), createdAt: NOW });
  /** Writes the messages and fans them out at `at`, as the relay would have then. */
  const fannedOutAt = async (at: Date, ids: string[]) => {
    await svc.deps.db.transaction((tx) => insertMessages(tx, ids.map(message)));
    expect(await fanOutMessages(svc.deps.db, at, 500)).toBe(ids.length);
  };
  const column = async (query: ReturnType<typeof sql>) => (await svc.deps.db.execute<{ id: string }>(query)).rows.map((r) => r.id);

  it('deletes finished messages past the retention with their delivery log, and keeps the rest', async () => {
    const hook = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://hooks.example/retention', events: ['*'] }, headers: auth() });
    expect(hook.statusCode, hook.body).toBe(201);
    await fannedOutAt(new Date(NOW.getTime() - 31 * DAY), ['evt_old_done', 'evt_old_failed', 'evt_old_pending']);
    await fannedOutAt(new Date(NOW.getTime() - 29 * DAY), ['evt_recent']);
    await svc.deps.db.execute(sql`
      update webhook_deliveries set status = case message_id when 'evt_old_failed' then 'failed' else 'succeeded' end
      where message_id in ('evt_old_done', 'evt_old_failed', 'evt_recent')`);
    await svc.deps.db.execute(sql`
      insert into webhook_attempts (delivery_id, attempt, outcome, status_code, duration_ms, created_at)
      select id, 1, 'success', 200, 5, ${NOW} from webhook_deliveries`);

    const job = { data: { kind: 'purge_outbox' } } as Job<JobPayloads['maintenance']>;
    expect(await processMaintenance(svc.deps, job)).toEqual({ messages: 2 });

    expect(await column(sql`select id from webhook_messages order by id`)).toEqual(['evt_old_pending', 'evt_recent']);
    expect(await column(sql`select message_id as id from webhook_deliveries order by message_id`)).toEqual(['evt_old_pending', 'evt_recent']);
    const attempts = await svc.deps.db.execute<{ n: number }>(sql`
      select count(*)::int as n from webhook_attempts a where not exists (select 1 from webhook_deliveries d where d.id = a.delivery_id)`);
    expect(attempts.rows[0]!.n).toBe(0);
    const log = (await svc.app.inject({ method: 'GET', url: `/v1/webhooks/${hook.json().id}/deliveries`, headers: auth() })).json();
    expect(log.items.map((d: { message_id: string }) => d.message_id).sort()).toEqual(['evt_old_pending', 'evt_recent']);
    // The pending delivery keeps its message however old.
    expect(await processMaintenance(svc.deps, job)).toEqual({ messages: 0 });
  });

  it('purges a backlog larger than one delete batch, all of it', async () => {
    // Two full batches of 5,000 (webhooks.service.ts PURGE_BATCH) and one more message.
    const ids = Array.from({ length: 10_001 }, (_, i) => `evt_backlog_${String(i).padStart(5, '0')}`);
    await svc.deps.db.transaction((tx) => insertMessages(tx, ids.map(message)));
    let fanned = 0;
    for (let n = -1; n !== 0; fanned += n) n = await fanOutMessages(svc.deps.db, new Date(NOW.getTime() - 40 * DAY), 5_000);
    expect(fanned).toBe(ids.length);
    await svc.deps.db.execute(sql`update webhook_deliveries set status = 'succeeded' where message_id like 'evt_backlog_%'`);

    const job = { data: { kind: 'purge_outbox' } } as Job<JobPayloads['maintenance']>;
    expect(await processMaintenance(svc.deps, job)).toEqual({ messages: ids.length });
    expect(await column(sql`select id from webhook_messages order by id`)).toEqual(['evt_old_pending', 'evt_recent']);
  });
});
