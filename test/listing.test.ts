import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, manualClock, settle, startService, type TestService } from './harness.ts';
import { expectedScores, planPopulation, toEvents } from './population.fixture.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const HOUR = 3_600_000;

describe('listing customers and reports', () => {
  let svc: TestService;
  const clock = manualClock(NOW);
  const plan = planPopulation(2000, NOW, 11);
  const get = async (url: string) => {
    const res = await svc.app.inject({ method: 'GET', url, headers: auth() });
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };
  async function waitJob(jobId: string) {
    await eventually(async () => ((await get(`/v1/jobs/${jobId}`)).status === 'completed' ? true : undefined), 60_000, 'job');
  }

  beforeAll(async () => {
    svc = await startService({ clock });
    const events = toEvents(plan);
    for (let i = 0; i < events.length; i += 1000) {
      await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events: events.slice(i, i + 1000) }, headers: auth() });
    }
    await settle(svc, events.length);
    await waitJob((await svc.app.inject({ method: 'POST', url: '/v1/rescore', headers: auth() })).json().job_id);
  });
  afterAll(async () => svc?.close());

  const filters: Array<[string, ReturnType<typeof sql>]> = [
    ['', sql`true`],
    ['tier=high', sql`tier = 'high'`],
    ['lifecycle_stage=lapsed', sql`lifecycle_stage = 'lapsed'`],
    ['rfm_segment=hibernating', sql`rfm_segment = 'hibernating'`],
    ['abc_class=A', sql`abc_class = 'A'`],
    ['at_risk=true', sql`at_risk`],
    ['price_sensitivity=low', sql`price_sensitivity = 'low'`],
    ['min_net_revenue=250.5', sql`net_revenue >= 250.5`],
    ['max_recency_days=90', sql`last_order_at >= ${new Date(NOW.getTime() - 90 * 86_400_000)}`],
    ['tier=medium&at_risk=false&min_net_revenue=100', sql`tier = 'medium' and not at_risk and net_revenue >= 100`],
  ];

  it.each(filters.flatMap(([q, where]) => ['id', '-net_revenue', 'last_order_at'].map((sort) => [q, sort, where] as const)))(
    'pages ?%s sorted by %s: every match exactly once, in order',
    async (query, sort, where) => {
      const expected = (await svc.deps.db.execute<{ id: string }>(sql`select id from customers where ${where}`)).rows.map((r) => r.id).sort();
      const seen: { id: string; net_revenue: string; last_order_at: string | null }[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: { id: string; metrics: { net_revenue: string; last_order_at: string | null } }[]; next_cursor: string | null } = await get(
          `/v1/customers?${query}&sort=${sort}&limit=97${cursor ? `&cursor=${cursor}` : ''}`,
        );
        seen.push(...page.items.map((c) => ({ id: c.id, net_revenue: c.metrics.net_revenue, last_order_at: c.metrics.last_order_at })));
        cursor = page.next_cursor;
      } while (cursor);
      expect(seen.map((c) => c.id).sort()).toEqual(expected);
      expect(new Set(seen.map((c) => c.id)).size).toBe(seen.length);
      const keys = seen.map((c) =>
        sort === 'id' ? c.id : sort === '-net_revenue' ? -Number(c.net_revenue) : c.last_order_at ? Date.parse(c.last_order_at) : -Infinity,
      );
      for (let i = 1; i < keys.length; i++) expect(keys[i]! >= keys[i - 1]!).toBe(true);
    },
  );

  it('refuses bad filters and foreign cursors with the parameter named', async () => {
    const bad = await svc.app.inject({ method: 'GET', url: '/v1/customers?abc_class=Z&limit=5000', headers: auth() });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors.map((e: { path: string }) => e.path).sort()).toEqual(['querystring.abc_class', 'querystring.limit']);
    const { next_cursor } = await get('/v1/customers?limit=1');
    const foreign = await svc.app.inject({ method: 'GET', url: `/v1/customers?sort=-net_revenue&cursor=${next_cursor}`, headers: auth() });
    expect(foreign.statusCode).toBe(400);
  });

  it('summarises customers and revenue; every breakdown adds up to the whole', async () => {
    const summary = await get('/v1/reports/summary');
    const expected = expectedScores(plan, NOW);
    expect(summary.customers).toBe(2000);
    expect(summary.buyers).toBe(expected.size);
    for (const by of ['by_tier', 'by_lifecycle_stage', 'by_rfm_segment', 'by_abc_class']) {
      const groups = summary[by] as { customers: number; share: number; revenue_share: number }[];
      expect(groups.reduce((s, g) => s + g.customers, 0)).toBe(2000);
      expect(groups.reduce((s, g) => s + g.share, 0)).toBeCloseTo(1, 9);
      expect(groups.reduce((s, g) => s + g.revenue_share, 0)).toBeCloseTo(1, 9);
    }
    const a = summary.by_abc_class.find((g: { key: string }) => g.key === 'A');
    expect(a.customers).toBe([...expected.values()].filter((e) => e.abc_class === 'A').length);
    expect(a.revenue_share).toBeGreaterThanOrEqual(0.8 - 0.05);
    expect(summary.top_20_percent_revenue_share).toBeGreaterThan(0.2);
    expect(summary.at_risk.customers).toBe((await get('/v1/customers?at_risk=true&limit=1000')).items.length);
  });

  it('reports tier migration from the history', async () => {
    clock.set(new Date(NOW.getTime() + HOUR));
    const put = await svc.app.inject({ method: 'PUT', url: '/v1/tier-policy', payload: { preset: 'pareto-abc' }, headers: auth() });
    await waitJob(put.json().job_id);
    const from = new Date(NOW.getTime() + HOUR / 2).toISOString();
    const to = new Date(NOW.getTime() + 2 * HOUR).toISOString();
    const { cells } = await get(`/v1/reports/tier-migration?from=${from}&to=${to}`);
    const expected = expectedScores(plan, NOW);
    const fromTotal = cells.filter((c: { from_tier: string | null }) => c.from_tier !== null).reduce((s: number, c: { customers: number }) => s + c.customers, 0);
    expect(fromTotal).toBe(expected.size);
    for (const cls of ['A', 'B', 'C']) {
      const into = cells.filter((c: { to_tier: string }) => c.to_tier === cls).reduce((s: number, c: { customers: number }) => s + c.customers, 0);
      expect(into).toBe([...expected.values()].filter((e) => e.abc_class === cls).length);
    }
    for (const c of cells) expect(['high', 'medium', 'low']).toContain(c.from_tier);
  });
});
