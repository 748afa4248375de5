import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { auth, eventually, manualClock, settle, startService, type TestService } from './harness.ts';
import { expectedScores, planPopulation, toEvents } from './population.fixture.ts';

const NOW = new Date('2026-06-15T12:00:00Z');
const DAY = 86_400_000;
const daysAgo = (d: number) => new Date(NOW.getTime() - d * DAY).toISOString();

async function postAll(svc: TestService, events: object[]) {
  for (let i = 0; i < events.length; i += 1000) {
    const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events: events.slice(i, i + 1000) }, headers: auth() });
    expect(res.statusCode, res.body).toBe(202);
  }
}

async function runRescore(svc: TestService) {
  const started = await svc.app.inject({ method: 'POST', url: '/v1/rescore', headers: auth() });
  expect(started.statusCode).toBe(202);
  const { job_id } = started.json();
  const job = await eventually(async () => {
    const res = (await svc.app.inject({ method: 'GET', url: `/v1/jobs/${job_id}`, headers: auth() })).json();
    return res.status === 'completed' || res.status === 'failed' ? res : undefined;
  }, 60_000, 'rescore job');
  expect(job).toMatchObject({ status: 'completed', progress: 1 });
  return job;
}

const customer = async (svc: TestService, id: string) =>
  (await svc.app.inject({ method: 'GET', url: `/v1/customers/${id}`, headers: auth() })).json();

describe('scoring a population', () => {
  let svc: TestService;
  const plan = planPopulation(300, NOW);
  const events = toEvents(plan);
  beforeAll(async () => {
    svc = await startService({ clock: manualClock(NOW) });
    await postAll(svc, [
      ...events,
      ...Array.from({ length: 10 }, (_, i) => ({ id: `prospect-${i}`, type: 'interaction', customer_id: `prospect-${i}`, occurred_at: daysAgo(3), kind: 'site_visit' })),
    ]);
    await settle(svc, events.length + 10);
    await runRescore(svc);
  });
  afterAll(async () => svc?.close());

  it('gives every buyer the R, F, M, value score, segment, ABC class and tier an independent computation gives', async () => {
    const expected = expectedScores(plan, NOW);
    expect(expected.size).toBeGreaterThan(250);
    const rows = await svc.deps.db.execute<{
      id: string; order_count: number; net_revenue: string; r_score: number; f_score: number; m_score: number;
      value_score: number; rfm_segment: string; abc_class: string; tier: string;
    }>(sql`select id, order_count, net_revenue::text, r_score, f_score, m_score, value_score, rfm_segment, abc_class, tier from customers where id like 'pop-%'`);
    const mismatches: string[] = [];
    for (const row of rows.rows) {
      const want = expected.get(row.id);
      if (!want) {
        if (row.order_count !== 0 || row.tier !== null) mismatches.push(`${row.id}: expected a prospect`);
        continue;
      }
      const got = {
        order_count: row.order_count, net_cents: Math.round(Number(row.net_revenue) * 100), r: row.r_score, f: row.f_score, m: row.m_score,
        value_score: row.value_score, rfm_segment: row.rfm_segment, abc_class: row.abc_class, tier: row.tier,
      };
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${row.id}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
    }
    expect(mismatches).toEqual([]);
    expect(rows.rows).toHaveLength(300);
    // Every score value is used, so the test does exercise each breakpoint.
    expect(new Set(rows.rows.map((r) => r.r_score))).toEqual(new Set([1, 2, 3, 4, 5, null]));
    expect(new Set(rows.rows.map((r) => r.abc_class))).toEqual(new Set(['A', 'B', 'C', null]));
    const stats = (await svc.app.inject({ method: 'GET', url: '/v1/stats', headers: auth() })).json();
    expect(stats).toMatchObject({ buyers: expected.size, computed_at: NOW.toISOString() });
    expect(stats.breakpoints.recency_days).toHaveLength(4);
    expect(rows.rows.filter((r) => r.r_score === null).length).toBe(300 - expected.size);
  });

  it('leaves customers with only interactions as prospects without scores or tier', async () => {
    const c = await customer(svc, 'prospect-3');
    expect(c).toMatchObject({ lifecycle_stage: 'prospect', tier: null, scores: null, rfm_segment: null, abc_class: null });
    expect(c.metrics).toMatchObject({ order_count: 0, interactions_90d: 1 });
  });

  it('shows the full customer with its playbook and its history', async () => {
    const id = [...expectedScores(plan, NOW).entries()].find(([, e]) => e.tier === 'high')![0];
    const c = await customer(svc, id);
    expect(c.tier).toBe('high');
    expect(c.playbook).toMatchObject({ summary: expect.any(String), actions: expect.any(Array) });
    expect(c.sequence).toBeGreaterThan(0);
    expect(c.computed_at).toBe(NOW.toISOString());
    const history = (await svc.app.inject({ method: 'GET', url: `/v1/customers/${id}/history?limit=1`, headers: auth() })).json();
    expect(history.items).toHaveLength(1);
    expect(history.next_cursor).toEqual(expect.any(String));
    const rest = (await svc.app.inject({ method: 'GET', url: `/v1/customers/${id}/history?cursor=${history.next_cursor}`, headers: auth() })).json();
    const kinds = [...history.items, ...rest.items].map((h: { kind: string }) => h.kind);
    expect(kinds).toEqual(expect.arrayContaining(['tier', 'lifecycle_stage']));
  });

  it('previews a policy change without changing anything, then applies it as a new version', async () => {
    const before = (await svc.app.inject({ method: 'GET', url: '/v1/tier-policy', headers: auth() })).json();
    const preview = await svc.app.inject({ method: 'POST', url: '/v1/tier-policy/preview', payload: { preset: 'pareto-abc' }, headers: auth() });
    expect(preview.statusCode).toBe(202);
    const done = await eventually(async () => {
      const job = (await svc.app.inject({ method: 'GET', url: `/v1/jobs/${preview.json().job_id}`, headers: auth() })).json();
      return job.status === 'completed' ? job : undefined;
    });
    expect(done).toMatchObject({ kind: 'preview_policy', progress: 1 });
    const expected = expectedScores(plan, NOW);
    const toA = done.result.moves.filter((m: { to: string }) => m.to === 'A').reduce((s: number, m: { customers: number }) => s + m.customers, 0);
    expect(toA).toBe([...expected.values()].filter((e) => e.abc_class === 'A').length);
    expect((await svc.app.inject({ method: 'GET', url: '/v1/tier-policy', headers: auth() })).json().version).toBe(before.version);

    const bad = await svc.app.inject({
      method: 'PUT', url: '/v1/tier-policy', headers: auth(),
      payload: { tiers: [{ key: 'vip', name: 'VIP', rule: { field: 'net_revnue', op: 'gte', value: 100 } }, { key: 'rest', name: 'Rest', rule: null }] },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().errors.map((e: { path: string }) => e.path)).toContain('tiers[0].rule.field');

    const put = await svc.app.inject({ method: 'PUT', url: '/v1/tier-policy', payload: { preset: 'pareto-abc' }, headers: auth() });
    expect(put.statusCode).toBe(202);
    expect(put.json().version).toBe(before.version + 1);
    await eventually(async () => {
      const job = (await svc.app.inject({ method: 'GET', url: `/v1/jobs/${put.json().job_id}`, headers: auth() })).json();
      return job.status === 'completed' ? job : undefined;
    });
    const tiers = await svc.deps.db.execute<{ tier: string; n: number }>(sql`select tier, count(*)::int n from customers where tier is not null group by tier`);
    const byTier = Object.fromEntries(tiers.rows.map((r) => [r.tier, r.n]));
    for (const cls of ['A', 'B', 'C']) expect(byTier[cls]).toBe([...expected.values()].filter((e) => e.abc_class === cls).length);
  });
});
