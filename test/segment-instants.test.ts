// Segment history rows and segment.* webhooks carry the instant the membership change became true
// (segmentChangedAt in src/domain/customer/customer-state.changes.ts), as tier, stage and at-risk
// changes do, not the instant the recompute happened to run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, manualClock, startService, type TestService } from './harness.ts';
import { recomputeCustomers } from '../src/services/recompute.service.ts';
import { upsertSegment } from '../src/store/segments.repo.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 86_400_000;

describe('segment change instants', () => {
  let svc: TestService;
  const clock = manualClock(NOW);
  beforeAll(async () => {
    svc = await startService({ clock, workers: false });
    // Messages are written only for subscribed types (README, Webhooks).
    const hook = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url: 'https://hooks.example/segments', events: ['segment.entered', 'segment.exited'] }, headers: auth() });
    expect(hook.statusCode, hook.body).toBe(201);
  });
  afterAll(async () => svc?.close());

  const customer = async (id: string) => (await svc.app.inject({ url: `/v1/customers/${id}`, headers: auth() })).json();
  const segmentHistory = async (id: string) =>
    (await svc.app.inject({ url: `/v1/customers/${id}/history?limit=1000`, headers: auth() })).json().items.filter((h: { kind: string }) => h.kind === 'segment');
  const segmentWebhooks = async (id: string) =>
    (
      await svc.deps.db.execute<{ body: string }>(sql`
        select body from webhook_messages where type like 'segment.%' and (body::jsonb -> 'data' ->> 'customer_id') = ${id} order by created_at`)
    ).rows.map((r) => JSON.parse(r.body));

  it('dates an entry that time alone caused at the review instant, and one new data caused at now', async () => {
    await upsertSegment(svc.deps.db, { key: 'quiet', name: 'Quiet for 20 days', rule: { field: 'recency_days', op: 'gte', value: 20 } }, NOW);
    await upsertSegment(svc.deps.db, { key: 'spent_100', name: 'Spent 100', rule: { field: 'net_revenue', op: 'gte', value: 100 } }, NOW);
    const order = (n: number, daysAgo: number, amount: string) => ({
      id: `si-${n}`, type: 'order', customer_id: 'si', occurred_at: new Date(clock.now().getTime() - daysAgo * DAY).toISOString(), order_id: `si-o${n}`, amount,
    });
    const post = async (events: object[]) => {
      expect((await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() })).statusCode).toBe(202);
      const { processIngest } = await import('../src/workers/ingest.worker.ts');
      for (const job of await svc.deps.queues.ingest.getJobs(['waiting'])) await processIngest(svc.deps, job);
      await recomputeCustomers(svc.deps, ['si']);
    };
    // Two orders, the last 10 days ago: not quiet yet, and under 100 spent.
    await post([order(1, 40, '30.00'), order(2, 10, '30.00')]);
    expect((await customer('si')).segments).toEqual([]);

    // Time passes as the sweep sees it: each review runs half a minute after it fell due, until the
    // last order is 20 days old and the customer enters 'quiet'.
    let due = new Date(0);
    for (let reviews = 0; (await customer('si')).segments.length === 0; reviews++) {
      expect(reviews).toBeLessThan(50);
      due = new Date((await customer('si')).next_review_at);
      clock.set(new Date(due.getTime() + 30_000));
      await recomputeCustomers(svc.deps, ['si']);
    }
    expect(due.getTime()).toBeGreaterThanOrEqual(NOW.getTime() + 10 * DAY - 1);
    const entered = await segmentHistory('si');
    expect((await customer('si')).segments).toEqual(['quiet']);
    expect(entered).toHaveLength(1);
    const history = (await svc.app.inject({ url: `/v1/customers/si/history?limit=1000`, headers: auth() })).json().items;
    const otherChanges = history.filter((h: { kind: string; sequence: number }) => h.kind !== 'segment' && h.sequence === entered[0].sequence);
    // Membership follows the state: with no other change it is the review instant, else the latest other change.
    const expected = otherChanges.length === 0 ? due.toISOString() : otherChanges.map((h: { changed_at: string }) => h.changed_at).sort().at(-1);
    expect(entered[0].changed_at).toBe(expected);
    expect(Date.parse(entered[0].changed_at)).toBeLessThan(clock.now().getTime());
    const [quietHook] = await segmentWebhooks('si');
    expect(quietHook).toMatchObject({ type: 'segment.entered', data: { segment: 'quiet', changed_at: entered[0].changed_at } });

    // A new order now: quiet is left and spent_100 entered, both now (the data arrived now).
    await post([order(3, 0, '50.00')]);
    const latest = (await segmentHistory('si')).filter((h: { sequence: number }) => h.sequence > entered[0].sequence);
    expect(latest.map((h: { after: { segment: string; member: boolean } }) => h.after).sort((a: { segment: string }, b: { segment: string }) => a.segment.localeCompare(b.segment))).toEqual([
      { segment: 'quiet', member: false },
      { segment: 'spent_100', member: true },
    ]);
    const hooks = (await segmentWebhooks('si')).slice(1);
    expect(hooks.map((h) => h.type).sort()).toEqual(['segment.entered', 'segment.exited']);
    for (const h of [...latest, ...hooks.map((w) => w.data)]) expect(h.changed_at).toBe(clock.now().toISOString());
  });
});
