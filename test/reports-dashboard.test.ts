import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, eventually, manualClock, settle, startService, type TestService } from './harness.ts';
import { expectedScores, planPopulation, toEvents, type Expected } from './population.fixture.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 86_400_000;

interface Item { id: string; at_risk: { reasons: { code: string }[] } }

describe('dashboard reports and RFM-cell listing', () => {
  let svc: TestService;
  const clock = manualClock(NOW);
  const plan = planPopulation(600, NOW, 5);
  let expected: Map<string, Expected>;
  const get = async (url: string) => {
    const res = await svc.app.inject({ method: 'GET', url, headers: auth() });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  const waitJob = (jobId: string) =>
    eventually(async () => ((await get(`/v1/jobs/${jobId}`)).status === 'completed' ? true : undefined), 60_000, 'job');
  async function listAll(query: string): Promise<Item[]> {
    const items: Item[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: Item[]; next_cursor: string | null } = await get(`/v1/customers?${query}&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }

  beforeAll(async () => {
    svc = await startService({ clock, config: { CURRENCY: 'CNY' } });
    // Two recent complaints for every 10th customer: a second at-risk reason besides the overdue ones.
    const complaints = plan.filter((_, i) => i % 10 === 0).flatMap((c) => [1, 2].map((k) => ({
      id: `${c.id}-complaint-${k}`, type: 'interaction', customer_id: c.id, kind: 'complaint', occurred_at: new Date(NOW.getTime() - k * DAY).toISOString(),
    })));
    const events = [...toEvents(plan), ...complaints];
    for (let i = 0; i < events.length; i += 1000) {
      await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events: events.slice(i, i + 1000) }, headers: auth() });
    }
    await settle(svc, events.length);
    await waitJob((await svc.app.inject({ method: 'POST', url: '/v1/rescore', headers: auth() })).json().job_id);
    expected = expectedScores(plan, NOW);
  });
  afterAll(async () => svc?.close());

  it('counts the buyers of every R×F cell, with the segment of the cell', async () => {
    const grid = await get('/v1/reports/rfm-grid');
    expect(grid.cells).toHaveLength(25);
    expect(grid.buyers).toBe(expected.size);
    for (const cell of grid.cells) {
      const members = [...expected.values()].filter((e) => e.r === cell.r_score && e.f === cell.f_score);
      expect(cell.customers, `R${cell.r_score} F${cell.f_score}`).toBe(members.length);
      if (members.length) expect(cell.segment).toBe(members[0]!.rfm_segment);
      expect(Number(cell.net_revenue)).toBeCloseTo(members.reduce((s, e) => s + e.net_cents, 0) / 100, 6);
    }
    expect(grid.cells.slice(0, 5).map((c: { r_score: number; f_score: number; segment: string }) => [c.r_score, c.f_score, c.segment])).toEqual([
      [5, 1, 'new'], [5, 2, 'potential_loyalists'], [5, 3, 'potential_loyalists'], [5, 4, 'champions'], [5, 5, 'champions'],
    ]);
  });

  it('lists exactly one RFM cell with r_score and f_score, and names a bad score', async () => {
    for (const [r, f] of [[1, 1], [3, 3], [5, 5], [2, 4]] as const) {
      const ids = (await listAll(`r_score=${r}&f_score=${f}&sort=-net_revenue`)).map((c) => c.id).sort();
      expect(ids).toEqual([...expected].filter(([, e]) => e.r === r && e.f === f).map(([id]) => id).sort());
    }
    const m = (await listAll('m_score=5')).map((c) => c.id).sort();
    expect(m).toEqual([...expected].filter(([, e]) => e.m === 5).map(([id]) => id).sort());
    const bad = await svc.app.inject({ method: 'GET', url: '/v1/customers?r_score=6&f_score=x', headers: auth() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors.map((e: { path: string }) => e.path).sort()).toEqual(['querystring.f_score', 'querystring.r_score']);
  });

  it('draws the Pareto curve: each point is the exact revenue share of the top buyers it counts', async () => {
    const { buyers, points } = await get('/v1/reports/pareto');
    const revenues = [...expected.values()].map((e) => e.net_cents).sort((a, b) => b - a);
    const total = revenues.reduce((s, v) => s + v, 0);
    expect(buyers).toBe(revenues.length);
    expect(points[0]).toMatchObject({ buyer_share: 0, revenue_share: 0 });
    expect(points.at(-1).buyer_share).toBe(1);
    expect(points.at(-1).revenue_share).toBeCloseTo(1, 12);
    expect(points.length).toBeGreaterThan(20);
    for (let i = 1; i < points.length; i++) {
      const p = points[i];
      expect(p.buyer_share).toBeGreaterThan(points[i - 1].buyer_share);
      expect(p.revenue_share).toBeGreaterThanOrEqual(p.buyer_share - 1e-12); // biggest spenders first: above the diagonal
      const top = Math.round(p.buyer_share * revenues.length);
      const topRevenue = revenues.slice(0, top).reduce((s, v) => s + v, 0);
      expect(p.revenue_share).toBeCloseTo(topRevenue / total, 9);
      // Everyone counted spends at least about the bucket's lower bound (2.5% wide buckets).
      expect(revenues[top - 1]! / 100).toBeGreaterThanOrEqual(Number(p.min_net_revenue) * 0.97);
    }
  });

  it('breaks the at-risk customers down by reason, as the listing shows them', async () => {
    const report = await get('/v1/reports/at-risk');
    const summary = await get('/v1/reports/summary');
    const flagged = await listAll('at_risk=true');
    expect(report.customers).toBe(summary.at_risk.customers);
    expect(report.net_revenue).toBe(summary.at_risk.net_revenue);
    expect(report.customers).toBe(flagged.length);
    for (const reason of report.by_reason) {
      expect(reason.customers, reason.code).toBe(flagged.filter((c) => c.at_risk.reasons.some((r) => r.code === reason.code)).length);
    }
    const codes = report.by_reason.filter((r: { customers: number }) => r.customers > 0).map((r: { code: string }) => r.code);
    expect(codes).toEqual(expect.arrayContaining(['complaints']));
    expect(codes.length).toBeGreaterThanOrEqual(2);
  });

  it('gives every saved segment its size, and the summary its currency', async () => {
    const put = await svc.app.inject({
      method: 'PUT', url: '/v1/segments/big', headers: auth(),
      payload: { name: 'Big spenders', rule: { field: 'net_revenue', op: 'gte', value: 1000 } },
    });
    await waitJob(put.json().job_id);
    await svc.app.inject({ method: 'PUT', url: '/v1/segments/nobody', headers: auth(), payload: { name: 'Nobody', rule: { field: 'order_count', op: 'gt', value: 10_000 } } })
      .then((res) => waitJob(res.json().job_id));
    const { items } = await get('/v1/reports/segment-sizes');
    const big = [...expected.values()].filter((e) => e.net_cents >= 100_000).length;
    expect(big).toBeGreaterThan(0);
    expect(items).toEqual([{ key: 'big', members: big }, { key: 'nobody', members: 0 }]);
    expect((await get('/v1/reports/summary')).currency).toBe('CNY');
  });

  it('answers from the last computation when max_age allows it, and computes anew otherwise', async () => {
    const first = await get('/v1/reports/rfm-grid?max_age=60');
    expect(first.computed_at).toBe(clock.now().toISOString());
    // A new buyer changes the grid; a report up to 60 s old may still be the earlier one.
    clock.advance(1_000);
    await svc.app.inject({ method: 'POST', url: '/v1/events', headers: auth(), payload: {
      id: 'late-buyer-o', type: 'order', customer_id: 'late-buyer', occurred_at: new Date(clock.now().getTime() - 60_000).toISOString(), order_id: 'late-1', amount: '10.00',
    } });
    await settle(svc, 1);
    await eventually(async () => ((await get('/v1/customers/late-buyer')).scores ? true : undefined));
    const cached = await get('/v1/reports/rfm-grid?max_age=60');
    expect(cached).toEqual(first);
    const fresh = await get('/v1/reports/rfm-grid');
    expect(fresh.buyers).toBe(first.buyers + 1);
    expect(Date.parse(fresh.computed_at)).toBeGreaterThan(Date.parse(first.computed_at));
    // Every computation refreshes what later callers get; past max_age it is computed again.
    expect(await get('/v1/reports/rfm-grid?max_age=60')).toEqual(fresh);
    clock.advance(61_000);
    expect((await get('/v1/reports/rfm-grid?max_age=60')).computed_at).toBe(clock.now().toISOString());
    const bad = await svc.app.inject({ method: 'GET', url: '/v1/reports/summary?max_age=-1', headers: auth() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors[0].path).toBe('querystring.max_age');
  });
});
