import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, manualClock, settle, startService, type TestService } from './harness.ts';
import { planPopulation, toEvents } from './population.fixture.ts';
import { startReceiver } from './receiver.ts';

const NOW = new Date('2026-06-15T12:00:00Z');

describe('saved segments', () => {
  let svc: TestService;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const plan = planPopulation(250, NOW, 3);
  const call = (method: 'GET' | 'PUT' | 'DELETE' | 'POST', url: string, payload?: object) =>
    svc.app.inject({ method, url, headers: auth(), ...(payload ? { payload } : {}) });
  async function putSegment(key: string, body: object) {
    const res = await call('PUT', `/v1/segments/${key}`, body);
    expect(res.statusCode, res.body).toBe(202);
    await eventually(async () => ((await call('GET', `/v1/jobs/${res.json().job_id}`)).json().status === 'completed' ? true : undefined), 60_000);
  }
  async function members(key: string): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { customer_id: string }[]; next_cursor: string | null } = (
        await call('GET', `/v1/segments/${key}/customers?limit=37${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      ids.push(...page.items.map((m) => m.customer_id));
      cursor = page.next_cursor;
    } while (cursor);
    return ids;
  }

  beforeAll(async () => {
    receiver = await startReceiver();
    svc = await startService({ clock: manualClock(NOW), config: { WEBHOOK_ALLOW_PRIVATE_TARGETS: true, WEBHOOK_RELAY_INTERVAL_MS: 100 } });
    const events = toEvents(plan);
    for (let i = 0; i < events.length; i += 1000) await call('POST', '/v1/events/batch', { events: events.slice(i, i + 1000) });
    await settle(svc, events.length);
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  it('computes members that equal the matching listing filter, and the export has one line per member', async () => {
    await putSegment('big_spenders', { name: 'Big spenders', rule: { field: 'net_revenue', op: 'gte', value: 600 } });
    const listed: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: { id: string }[]; next_cursor: string | null } = (
        await call('GET', `/v1/customers?min_net_revenue=600&limit=50${cursor ? `&cursor=${cursor}` : ''}`)
      ).json();
      listed.push(...page.items.map((c) => c.id));
      cursor = page.next_cursor;
    } while (cursor);
    const got = await members('big_spenders');
    expect(got.length).toBeGreaterThan(10);
    expect(got).toEqual(listed.sort());
    const bySegmentFilter = (await call('GET', '/v1/customers?segment=big_spenders&limit=1000')).json().items.map((c: { id: string }) => c.id);
    expect(bySegmentFilter).toEqual(got);

    const csv = (await call('GET', '/v1/segments/big_spenders/export?format=csv')).body.trim().split('\n');
    expect(csv[0]).toBe('customer_id,email,tier,lifecycle_stage,rfm_segment,abc_class,value_score,net_revenue,order_count,last_order_at,at_risk,region');
    expect(csv.slice(1).map((line) => line.split(',')[0])).toEqual(got);
    const ndjson = (await call('GET', '/v1/segments/big_spenders/export?format=ndjson')).body.trim().split('\n').map((l) => JSON.parse(l));
    expect(ndjson.map((r: { customer_id: string }) => r.customer_id)).toEqual(got);
    expect((await call('GET', `/v1/customers/${got[0]}`)).json().segments).toContain('big_spenders');
  });

  it('lets a segment build on another, refuses cycles and unknown fields with the path', async () => {
    await putSegment('vip_at_risk', { name: 'VIPs slipping', rule: { all: [{ field: 'segment', op: 'eq', value: 'big_spenders' }, { field: 'lifecycle_stage', op: 'in', value: ['at_risk', 'lapsed'] }] } });
    const expected = (
      await svc.deps.db.execute<{ id: string }>(sql`select id from customers where net_revenue >= 600 and lifecycle_stage in ('at_risk', 'lapsed') order by id`)
    ).rows.map((r) => r.id);
    expect(await members('vip_at_risk')).toEqual(expected);

    const cycle = await call('PUT', '/v1/segments/big_spenders', { name: 'x', rule: { field: 'segment', op: 'eq', value: 'vip_at_risk' } });
    expect(cycle.statusCode).toBe(400);
    expect(cycle.json().errors[0]).toMatchObject({ path: 'rule', message: expect.stringMatching(/cycle/) });
    const unknown = await call('PUT', '/v1/segments/x', { name: 'x', rule: { any: [{ field: 'net_revenue', op: 'gte', value: 1 }, { field: 'nett', op: 'eq', value: 1 }] } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().errors[0].path).toBe('rule.any[1].field');
    expect((await call('DELETE', '/v1/segments/big_spenders')).statusCode).toBe(409);
  });

  it('keeps membership current on recompute, with history and segment.entered webhooks', async () => {
    const hook = await call('POST', '/v1/webhooks', { url: receiver.url('/seg'), events: ['segment.entered', 'segment.exited'] });
    expect(hook.statusCode).toBe(201);
    const newcomer = { id: 'seg-new-1', type: 'order', customer_id: 'seg-newcomer', occurred_at: new Date(NOW.getTime() - 3_600_000).toISOString(), order_id: 'x1', amount: '700' };
    await call('POST', '/v1/events', newcomer);
    const entered = await eventually(async () => receiver.received.find((r) => JSON.parse(r.body).data.customer_id === 'seg-newcomer'), 15_000, 'segment.entered');
    expect(JSON.parse(entered.body)).toMatchObject({ type: 'segment.entered', data: { segment: 'big_spenders', segments: ['big_spenders'] } });
    const refund = { id: 'seg-new-2', type: 'refund', customer_id: 'seg-newcomer', occurred_at: NOW.toISOString(), order_id: 'x1', amount: '200' };
    await call('POST', '/v1/events', refund);
    await eventually(async () => (receiver.received.some((r) => JSON.parse(r.body).type === 'segment.exited') ? true : undefined), 15_000, 'segment.exited');
    const history = (await call('GET', '/v1/customers/seg-newcomer/history')).json().items.filter((h: { kind: string }) => h.kind === 'segment');
    expect(history.map((h: { after: { member: boolean } }) => h.after.member)).toEqual([false, true]);
    expect(await members('big_spenders')).not.toContain('seg-newcomer');
  });
});
