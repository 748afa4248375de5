import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, manualClock, settle, startService, type TestService } from './harness.ts';
import { customerSchema } from '../src/http/customers.schemas.ts';
import { currentPolicy } from '../src/store/policies.repo.ts';
import { customers } from '../src/store/schema.ts';
import { formatMoney } from '../src/domain/money.ts';
import { ageDays } from '../src/domain/time.ts';
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
    // The population names no region; three, written straight into the listing column, give the
    // lifecycle-stage-in-one-region filter (its own index) something to find.
    await svc.deps.db.execute(sql`update customers set region = 'r' || (hashtext(id) & 3) where hashtext(id) & 3 < 3`);
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
    ['lifecycle_stage=active&region=r1', sql`lifecycle_stage = 'active' and region = 'r1'`],
    ['lifecycle_stage=lapsed&region=r2&at_risk=false', sql`lifecycle_stage = 'lapsed' and region = 'r2' and not at_risk`],
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

  it('shows each customer exactly as the schema describes, the same in the listing and alone', async () => {
    // Segment keys whose code point order differs from a linguistic collation's, and predictions.
    const [first, second] = (await svc.deps.db.execute<{ id: string }>(sql`select id from customers order by id limit 2`)).rows.map((r) => r.id);
    await svc.deps.db.execute(sql`insert into segment_members (segment_key, customer_id, entered_at)
      select k, ${first}, now() from unnest(array['az', 'a_z', 'a0', 'a-z']) k`);
    await svc.deps.db.execute(sql`update customers set p_alive = 0.125, expected_orders_90d = null, clv_12m = 12.3400 where id = ${first}`);
    await svc.deps.db.execute(sql`update customers set p_alive = 1e-7, expected_orders_90d = 2.5, clv_12m = 0 where id = ${second}`);
    // Ids merged into the first customer, listed in code point order.
    await svc.deps.db.execute(sql`insert into customer_aliases (merged_id, survivor_id, merged_at, event_id)
      values ('anon:b', ${first}, now(), 'x1'), ('Z-merged', ${first}, now(), 'x2')`);
    const { policy } = await currentPolicy(svc.deps.db);
    const rows = await svc.deps.db.select().from(customers).orderBy(customers.id);
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    const expected = rows.map((row) => ({
      id: row.id,
      traits: row.traits,
      created_at: row.createdAt.toISOString(),
      metrics: row.computedAt && {
        order_count: row.orderCount,
        net_revenue: formatMoney(row.netRevenue, 2),
        avg_order_value: row.avgOrderValue === null ? null : formatMoney(row.avgOrderValue, 2),
        first_order_at: iso(row.firstOrderAt),
        last_order_at: iso(row.lastOrderAt),
        previous_order_at: iso(row.previousOrderAt),
        orders_365d: row.orders365d,
        revenue_365d: formatMoney(row.revenue365d, 2),
        recency_days: row.lastOrderAt ? ageDays(row.lastOrderAt, clock.now()) : null,
        tenure_days: row.firstEventAt ? ageDays(row.firstEventAt, clock.now()) : 0,
        first_event_at: iso(row.firstEventAt),
        cadence_days: row.cadenceDays,
        distinct_categories: row.distinctCategories,
        top_categories: row.topCategories ?? [],
        discount_order_share: row.discountOrderShare,
        price_sensitivity: row.priceSensitivity,
        preferred_channel: row.preferredChannel,
        region: row.region,
        interactions_90d: row.interactions90d,
        complaints_90d: row.complaints90d,
        last_interaction_at: iso(row.lastInteractionAt),
        satisfaction_avg: row.satisfactionAvg,
      },
      scores: row.rScore === null ? null : { r_score: row.rScore, f_score: row.fScore, m_score: row.mScore, value_score: row.valueScore },
      rfm_segment: row.rfmSegment,
      abc_class: row.abcClass,
      tier: row.tier,
      lifecycle_stage: row.lifecycleStage,
      at_risk: { flagged: row.atRisk, since: iso(row.atRiskSince), reasons: row.atRiskReasons ?? [] },
      predictions: row.pAlive === null ? null : { p_alive: row.pAlive, expected_orders_90d: row.expectedOrders90d, clv_12m: row.clv12m && formatMoney(row.clv12m, 2) },
      segments: row.id === first ? ['a-z', 'a0', 'a_z', 'az'] : [],
      merged_ids: row.id === first ? ['Z-merged', 'anon:b'] : [],
      playbook: policy.tiers.find((t) => t.key === row.tier)?.playbook ?? null,
      next_review_at: iso(row.nextReviewAt),
      computed_at: iso(row.computedAt),
      sequence: row.sequence,
    }));
    expect(expected.filter((c) => c.playbook !== null && c.at_risk.since !== null).length).toBeGreaterThan(0);
    const listed: unknown[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: unknown[]; next_cursor: string | null } = await get(`/v1/customers?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
      listed.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    expect(listed).toEqual(expected);
    // Nothing beyond the schema (parsing drops unknown keys) and every value of its type.
    expect(listed.map((c) => customerSchema.parse(c))).toEqual(listed);
    for (const id of [first, second]) expect(await get(`/v1/customers/${id}`)).toEqual(expected.find((c) => c.id === id));
  });

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
