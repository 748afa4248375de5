/**
 * Listing and export benchmark (see bench/README.md): BENCH_CUSTOMERS synthetic customers written
 * straight into a throwaway database with SQL, then first-page latency of GET /v1/customers with
 * filters (app.inject, in process) against same-run baselines, EXPLAIN (ANALYZE, BUFFERS) of each
 * listing query, and GET /v1/segments/{key}/export streamed from a real listening server with the
 * process's RSS sampled. Prints results; writes no files.
 *
 *   npx tsx bench/listing.bench.ts                          # 1,000,000 customers
 *   BENCH_CUSTOMERS=100000 npx tsx bench/listing.bench.ts   # quick check
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import QueryStream from 'pg-query-stream';
import { Agent, request } from 'undici';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { FastifyInstance } from 'fastify';
import { createDeps, type Deps } from '../src/deps.ts';
import { buildApp } from '../src/http/app.ts';
import { migrateDb, type Db } from '../src/store/db.ts';
import * as schema from '../src/store/schema.ts';
import { waitForRedis } from '../src/queues/redis-policy.ts';
import {
  NAME, benchConfig, checkInterrupted, cleanupStep, createDatabase, dec, handleInterrupts, int, intEnv, listenLocal,
  machine, median, removeThrowaways, runMain, sleep, table,
} from './support.ts';

const CUSTOMERS = intEnv('BENCH_CUSTOMERS', 1_000_000);
const REQUESTS = intEnv('BENCH_REQUESTS', 200);
const WARMUP = intEnv('BENCH_WARMUP', 20, 0);
const MEMBERS = Math.min(intEnv('BENCH_MEMBERS', 100_000), CUSTOMERS);
const EXPORT_RUNS = intEnv('BENCH_EXPORT_RUNS', 3);
const PAGE = 100;
const GENERATE_CHUNK = 100_000;
/** A scan or sort of more rows than this for one first page is called out as a finding. */
const BIG_ROWS = 10_000;
const RSS_SAMPLE_MS = 50;
/** The region of the second filter: a mid-frequency one (about 4% of customers). */
const REGION = 'de';
const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;
const AUTH = { authorization: `Bearer ${ADMIN_KEY}` };

// ---------------------------------------------------------------------------------------------
// Interruption: Ctrl-C stops at the next step (a running SQL statement finishes first) and still
// drops the database and Redis keys.

handleInterrupts();

/**
 * A full garbage collection, so that memory before and after each export run is what is really
 * retained rather than garbage not yet collected (the same as node --expose-gc, which
 * `npx tsx` cannot pass). Undefined if this Node refuses the flag; the runs then go without it.
 */
const gc: (() => void) | undefined = (() => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
})();

// ---------------------------------------------------------------------------------------------
// Formatting.

/** Nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(1)}%` : 'n/a');
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)}`;

// ---------------------------------------------------------------------------------------------
// Synthetic customers, written directly with insert … select … from generate_series. Every value
// derives from a handful of uniform random numbers per row (setseed makes the data the same on
// every run), so the columns agree with each other: prospects (~10%) have no orders, scores, tier,
// ABC class or channel; recency is skewed towards recent orders over 3 years; lifecycle stage,
// RFM segment, tier and ABC class follow from recency, order count and revenue; ~12% are at risk.

const REGIONS = ['us-east', 'us-west', 'uk', 'us-central', 'ca', 'fr', 'br', 'au', 'de', 'mx',
  'es', 'it', 'nl', 'in', 'jp', 'se', 'pl', 'sg', 'za', 'ar'];

/** An RFC 3339 UTC instant with milliseconds, as the service writes them. */
const iso = (expr: string) => `to_char((${expr}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const days = (expr: string) => `make_interval(secs => (${expr}) * 86400)`;

// $1..$2: the range of customer numbers; $3: "now" (the same instant for every chunk).
const GENERATE_SQL = `
insert into customers (
  id, traits, created_at, order_count, net_revenue, last_order_at, region, preferred_channel,
  price_sensitivity, r_score, f_score, m_score, value_score, rfm_segment, abc_class, tier, lifecycle_stage,
  at_risk, at_risk_since, at_risk_reasons, next_review_at, computed_at, sequence)
select
  id,
  jsonb_build_object('email', id || '@example.com'),
  coalesce(last_order_at, $3::timestamptz) - ${days('u_created * greatest(1100 - coalesce(recency_days, 0), 1)')},
  order_count, net_revenue, last_order_at, region, preferred_channel, price_sensitivity,
  r_score, f_score, m_score, value_score,
  case
    when not buyer then null
    when r_score >= 4 and f_score >= 4 then 'champions'
    when r_score >= 3 and f_score >= 3 then 'loyal'
    when r_score >= 4 and f_score = 2 then 'potential_loyalists'
    when r_score >= 4 then 'new'
    when r_score = 3 then 'promising'
    when r_score = 2 and f_score >= 4 then 'cant_lose'
    when r_score = 2 and f_score = 3 then 'at_risk'
    when r_score = 2 then 'need_attention'
    when f_score >= 3 then 'about_to_sleep'
    else 'hibernating'
  end,
  abc_class,
  case when not buyer then null when value_score >= 4 then 'high' when value_score = 3 then 'medium' else 'low' end,
  lifecycle_stage,
  at_risk,
  case when at_risk then least(last_order_at + interval '90 days', $3::timestamptz) end,
  case when at_risk then jsonb_build_array(jsonb_build_object(
    'code', 'recency',
    'detail', 'no order for ' || floor(recency_days)::int || ' days',
    'since', ${iso(`least(last_order_at + interval '90 days', $3::timestamptz)`)}))
  else '[]'::jsonb end,
  case when buyer then $3::timestamptz + interval '30 days' - ${days('u_computed')} end,
  $3::timestamptz - ${days('u_computed')},
  order_count + 1
from (
  select d.*, case when buyer then round((r_score + f_score + m_score) / 3.0)::smallint end as value_score
  from (
    select c.*,
      case when not buyer then null when net_revenue >= 1500 then 5 when net_revenue >= 700 then 4
           when net_revenue >= 300 then 3 when net_revenue >= 100 then 2 else 1 end::smallint as m_score,
      case when not buyer then null when net_revenue >= 1000 then 'A' when net_revenue >= 250 then 'B' else 'C' end as abc_class,
      (lifecycle_stage = 'at_risk' and u_risk < 0.5)
        or (lifecycle_stage in ('active', 'loyal', 'reactivated') and u_risk < 0.04) as at_risk
    from (
      select b.*,
        case when buyer then round((order_count * (15 + 185 * u_aov * u_aov))::numeric, 2) else 0 end as net_revenue,
        case when buyer then $3::timestamptz - ${days('recency_days')} end as last_order_at,
        case when not buyer then null when recency_days < 30 then 5 when recency_days < 90 then 4
             when recency_days < 180 then 3 when recency_days < 365 then 2 else 1 end::smallint as r_score,
        case when not buyer then null when order_count >= 12 then 5 when order_count >= 7 then 4
             when order_count >= 4 then 3 when order_count >= 2 then 2 else 1 end::smallint as f_score,
        case when not buyer then 'prospect' when recency_days >= 365 then 'lapsed' when recency_days >= 120 then 'at_risk'
             when order_count = 1 then 'new' when u_stage < 0.08 then 'reactivated' when order_count >= 7 then 'loyal'
             else 'active' end as lifecycle_stage
      from (
        select 'c-' || g as id,
          u_buyer >= 0.10 as buyer,
          case when u_buyer >= 0.10 then 1 + floor(-ln(1 - u_orders) * 4)::int else 0 end as order_count,
          case when u_buyer >= 0.10 then 1095 * u_recency * u_recency end as recency_days,
          case when u_missing < 0.04 then null
               else (array[${REGIONS.map((r) => `'${r}'`).join(', ')}])[1 + floor(20 * u_region * u_region)::int] end as region,
          case when u_buyer < 0.10 then null when u_channel < 0.55 then 'web' when u_channel < 0.80 then 'app'
               when u_channel < 0.95 then 'store' else 'phone' end as preferred_channel,
          case when u_buyer < 0.10 then null when u_price < 0.25 then 'high' when u_price < 0.70 then 'medium'
               else 'low' end as price_sensitivity,
          u_aov, u_stage, u_risk, u_created, u_computed
        from (
          -- offset 0 keeps this level (and so each row's random numbers) from being flattened away
          select g, random() as u_buyer, random() as u_orders, random() as u_aov, random() as u_recency,
                 random() as u_region, random() as u_missing, random() as u_channel, random() as u_price,
                 random() as u_stage, random() as u_risk, random() as u_created, random() as u_computed
          from generate_series($1::int, $2::int) as g
          offset 0
        ) r
      ) b
    ) c
  ) d
) e`;

interface Generated {
  generateS: number;
  vacuumS: number;
  tableBytes: number;
  totalBytes: number;
}

async function generateCustomers(deps: Deps, now: Date): Promise<Generated> {
  const client = await deps.pool.connect();
  try {
    await client.query('select setseed(0.4242)');
    const t0 = performance.now();
    for (let from = 1; from <= CUSTOMERS; from += GENERATE_CHUNK) {
      checkInterrupted();
      const to = Math.min(CUSTOMERS, from + GENERATE_CHUNK - 1);
      await client.query(GENERATE_SQL, [from, to, now.toISOString()]);
      const s = (performance.now() - t0) / 1000;
      process.stdout.write(`\r  generated ${int(to)} / ${int(CUSTOMERS)} customers, ${dec(s, 1)} s, ${int(to / s)} rows/s   `);
    }
    const generateS = (performance.now() - t0) / 1000;
    process.stdout.write('\n');
    // vacuum (which includes analyze): statistics for the planner, and the visibility map for
    // index-only scans, as autovacuum would leave a long-lived table; doing it now also keeps
    // autovacuum from starting on the fresh table in the middle of the measurements.
    const t1 = performance.now();
    await client.query('vacuum (analyze) customers');
    const vacuumS = (performance.now() - t1) / 1000;
    const { rows } = await client.query<{ heap: string; total: string }>(
      `select pg_table_size('customers') as heap, pg_total_relation_size('customers') as total`,
    );
    return { generateS, vacuumS, tableBytes: Number(rows[0]!.heap), totalBytes: Number(rows[0]!.total) };
  } finally {
    client.release();
  }
}

/** One line per column: the share of each value (the most frequent first). */
async function distributions(deps: Deps): Promise<string[]> {
  const lines: string[] = [];
  const columns = ['tier', 'lifecycle_stage', 'rfm_segment', 'abc_class', 'at_risk', 'preferred_channel', 'price_sensitivity', 'region'];
  for (const column of columns) {
    checkInterrupted();
    const { rows } = await deps.pool.query<{ v: string | null; n: number }>(
      `select ${column}::text as v, count(*)::int as n from customers group by 1 order by 2 desc, 1`,
    );
    const shown = column === 'region' ? [...rows.slice(0, 4), ...rows.filter((r) => r.v === REGION || r.v === null)] : rows;
    const text = shown.map((r) => `${r.v ?? 'null'} ${pct(r.n / CUSTOMERS)}`).join(', ');
    lines.push(`  ${column}: ${text}${column === 'region' ? ` (${rows.length - 1} values; top 4, "${REGION}" and null shown)` : ''}`);
  }
  const { rows } = await deps.pool.query<{ p50: string; p90: string; p99: string; max: string; oc: string; share500: number }>(
    `select percentile_disc(0.5) within group (order by net_revenue)::text as p50,
            percentile_disc(0.9) within group (order by net_revenue)::text as p90,
            percentile_disc(0.99) within group (order by net_revenue)::text as p99,
            max(net_revenue)::text as max,
            percentile_disc(0.5) within group (order by order_count)::text as oc,
            avg((net_revenue >= 500)::int)::float8 as share500
     from customers where order_count > 0`,
  );
  const r = rows[0]!;
  lines.push(`  buyers' net_revenue: p50 ${r.p50}, p90 ${r.p90}, p99 ${r.p99}, max ${r.max}; ≥ 500: ${pct(r.share500)} of buyers; median order_count ${r.oc}`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// Listing: first pages through app.inject, interleaved with the baselines.

interface CustomerItem {
  id: string;
  tier: string | null;
  lifecycle_stage: string | null;
  rfm_segment: string | null;
  scores: { r_score: number; f_score: number } | null;
  at_risk: { flagged: boolean };
  metrics: Record<string, unknown> | null;
}

interface Listing {
  name: string;
  /** Query string without limit; undefined for the raw pool query. */
  query?: string;
  /** SQL condition counting the customers it matches. */
  matches: string;
  /** Every returned item must pass this. */
  check?: (c: CustomerItem) => boolean;
  /** Asserts the order of two consecutive items. */
  ordered?: (a: CustomerItem, b: CustomerItem) => boolean;
  /** An index that would serve the page, printed when the plan reads or sorts many rows. */
  fix?: string;
}

const byId = (a: CustomerItem, b: CustomerItem) => a.id < b.id;
const POOL_SQL = `select id from customers order by id limit ${PAGE}`;

const LISTINGS: Listing[] = [
  { name: 'baseline: pool query', matches: 'true' },
  { name: 'baseline: sort=id', query: 'sort=id', matches: 'true', ordered: byId },
  {
    name: 'tier=high sort=-net_revenue',
    query: 'tier=high&sort=-net_revenue',
    matches: `tier = 'high'`,
    check: (c) => c.tier === 'high',
    ordered: (a, b) => Number(a.metrics?.['net_revenue']) >= Number(b.metrics?.['net_revenue']),
    fix: 'create index customers_tier_net_revenue_idx on customers (tier, net_revenue desc, id);',
  },
  {
    name: `lifecycle_stage=at_risk region=${REGION}`,
    query: `lifecycle_stage=at_risk&region=${REGION}`,
    matches: `lifecycle_stage = 'at_risk' and region = '${REGION}'`,
    check: (c) => c.lifecycle_stage === 'at_risk' && c.metrics?.['region'] === REGION,
    ordered: byId,
    fix: 'create index customers_lifecycle_region_idx on customers (lifecycle_stage, region, id);',
  },
  {
    name: 'at_risk=true min_net_revenue=500',
    query: 'at_risk=true&min_net_revenue=500',
    matches: 'at_risk and net_revenue >= 500',
    check: (c) => c.at_risk.flagged && Number(c.metrics?.['net_revenue']) >= 500,
    ordered: byId,
    fix: 'create index customers_at_risk_revenue_idx on customers (net_revenue, id) where at_risk;',
  },
  {
    name: 'rfm_segment=champions sort=-last_order_at',
    query: 'rfm_segment=champions&sort=-last_order_at',
    matches: `rfm_segment = 'champions'`,
    check: (c) => c.rfm_segment === 'champions',
    ordered: (a, b) => String(a.metrics?.['last_order_at'] ?? '') >= String(b.metrics?.['last_order_at'] ?? ''),
    fix:
      `create index customers_rfm_recency_idx on customers (rfm_segment, (coalesce(last_order_at, '-infinity'::timestamptz)) desc, id);` +
      ` — the sort key is coalesce(last_order_at, '-infinity'), which customers_last_order_idx (last_order_at, id) cannot supply`,
  },
  {
    name: 'RFM cell r_score=2 f_score=4 sort=-net_revenue',
    query: 'r_score=2&f_score=4&sort=-net_revenue',
    matches: 'r_score = 2 and f_score = 4',
    check: (c) => c.scores?.r_score === 2 && c.scores?.f_score === 4,
    ordered: (a, b) => Number(a.metrics?.['net_revenue']) >= Number(b.metrics?.['net_revenue']),
  },
  {
    name: 'at_risk=true sort=-net_revenue',
    query: 'at_risk=true&sort=-net_revenue',
    matches: 'at_risk',
    check: (c) => c.at_risk.flagged,
    ordered: (a, b) => Number(a.metrics?.['net_revenue']) >= Number(b.metrics?.['net_revenue']),
  },
];

/** The aggregate reports the dashboard's views are built on: each answers over the whole table. */
const REPORTS = [
  '/v1/reports/summary',
  '/v1/reports/rfm-grid',
  '/v1/reports/pareto',
  '/v1/reports/at-risk',
  '/v1/reports/segment-sizes',
  // As the dashboard asks: any replica's result from the last 60 s, from Redis.
  '/v1/reports/summary?max_age=60',
  '/v1/reports/rfm-grid?max_age=60',
  '/v1/reports/pareto?max_age=60',
  '/v1/reports/at-risk?max_age=60',
];
const REPORT_REQUESTS = intEnv('BENCH_REPORT_REQUESTS', 20);

async function measureReports(app: FastifyInstance): Promise<{ url: string; samples: number[]; problems: string[] }[]> {
  const results = REPORTS.map((url) => ({ url, samples: [] as number[], problems: [] as string[] }));
  for (let round = 0; round < 2 + REPORT_REQUESTS; round++) {
    checkInterrupted();
    for (const r of results) {
      const t0 = performance.now();
      const res = await app.inject({ method: 'GET', url: r.url, headers: AUTH });
      if (round >= 2) r.samples.push(performance.now() - t0);
      if (res.statusCode !== 200 && r.problems.length < 3) r.problems.push(`${r.url}: HTTP ${res.statusCode}`);
    }
  }
  return results;
}

interface ListingResult {
  listing: Listing;
  matching: number;
  samples: number[];
  items: number;
  hasNext: boolean;
  problems: string[];
}

async function measureListings(deps: Deps, app: FastifyInstance): Promise<ListingResult[]> {
  const { rows } = await deps.pool.query<Record<string, number>>(
    `select ${LISTINGS.map((l, i) => `count(*) filter (where ${l.matches})::int as s${i}`).join(', ')} from customers`,
  );
  const results: ListingResult[] = LISTINGS.map((listing, i) => ({
    listing,
    matching: rows[0]![`s${i}`]!,
    samples: [],
    items: -1,
    hasNext: false,
    problems: [],
  }));

  const total = WARMUP + REQUESTS;
  // Rounds interleave the scenarios, so slow drift of a shared machine hits all of them alike.
  for (let round = 0; round < total; round++) {
    checkInterrupted();
    for (const r of results) {
      const t0 = performance.now();
      let payload: string | undefined;
      let status = 200;
      if (r.listing.query === undefined) {
        await deps.pool.query(POOL_SQL);
      } else {
        const res = await app.inject({ method: 'GET', url: `/v1/customers?${r.listing.query}&limit=${PAGE}`, headers: AUTH });
        status = res.statusCode;
        payload = res.payload;
      }
      const ms = performance.now() - t0;
      if (round >= WARMUP) r.samples.push(ms);
      if (status !== 200) {
        if (r.problems.length < 3) r.problems.push(`${r.listing.name}: HTTP ${status}: ${payload?.slice(0, 200)}`);
        continue;
      }
      // Check the first and the last response (outside the timing).
      if (payload !== undefined && (round === 0 || round === total - 1)) {
        const page = JSON.parse(payload) as { items: CustomerItem[]; next_cursor: string | null };
        r.items = page.items.length;
        r.hasNext = page.next_cursor !== null;
        const expected = Math.min(PAGE, r.matching);
        if (page.items.length !== expected) r.problems.push(`${r.listing.name}: ${page.items.length} items, expected ${expected}`);
        const bad = r.listing.check ? page.items.filter((c) => !r.listing.check!(c)).length : 0;
        if (bad > 0) r.problems.push(`${r.listing.name}: ${bad} item(s) do not match the filter`);
        const ordered = r.listing.ordered;
        if (ordered && page.items.some((c, i) => i > 0 && !ordered(page.items[i - 1]!, c))) {
          r.problems.push(`${r.listing.name}: items out of order`);
        }
      }
    }
    if ((round + 1) % 20 === 0) {
      process.stdout.write(`\r  round ${round + 1} / ${total} (${WARMUP} warm-up)   `);
    }
  }
  process.stdout.write('\n');
  return results;
}

// ---------------------------------------------------------------------------------------------
// EXPLAIN (ANALYZE, BUFFERS): the listing SQL exactly as the route sends it, captured by routing
// one request of each scenario through a copy of the Drizzle handle with a query logger.

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Scan Direction'?: string;
  'Join Type'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Actual Total Time': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Sort Method'?: string;
  'Sort Space Used'?: number;
  'Sort Space Type'?: string;
  'Sort Key'?: string[];
  'Presorted Key'?: string[];
  'Index Cond'?: string;
  'Filter'?: string;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  'Workers Launched'?: number;
  Plans?: PlanNode[];
}

interface PlanReport {
  name: string;
  sql: string;
  executionMs: number;
  lines: string[];
  indexes: string[];
  seqScanRows: number;
  sortedRows: number;
  sortMethod: string | undefined;
  sortSpace: string | undefined;
  /** Rows of `customers` the scans went through (returned or filtered out). */
  rowsRead: number;
  hitBlocks: number;
  readBlocks: number;
  verdict: string;
  bad: boolean;
  fix?: string | undefined;
}

const SCANS = new Set(['Seq Scan', 'Index Scan', 'Index Only Scan', 'Bitmap Heap Scan']);

function analysePlan(name: string, sql: string, explained: { Plan: PlanNode; 'Execution Time': number }, fix?: string): PlanReport {
  const lines: string[] = [];
  const indexes = new Set<string>();
  let seqScanRows = 0;
  let sortedRows = 0;
  let sortMethod: string | undefined;
  let sortSpace: string | undefined;
  let rowsRead = 0;
  const walk = (node: PlanNode, depth: number) => {
    const loops = node['Actual Loops'];
    const removed = (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0);
    const read = (node['Actual Rows'] + removed) * loops;
    if (node['Index Name']) indexes.add(node['Index Name']);
    const onCustomers = node['Relation Name'] === 'customers';
    if (onCustomers && SCANS.has(node['Node Type'])) rowsRead += read;
    if (onCustomers && node['Node Type'] === 'Seq Scan') seqScanRows += read;
    if (node['Node Type'] === 'Sort') {
      const input = (node.Plans ?? []).reduce((sum, child) => sum + child['Actual Rows'] * child['Actual Loops'], 0);
      if (input > sortedRows) {
        sortedRows = input;
        sortMethod = node['Sort Method'];
        sortSpace = node['Sort Space Type'];
      }
    }
    const parts = [
      node['Node Type'] + (node['Join Type'] ? ` (${node['Join Type']})` : ''),
      node['Index Name'] ? `using ${node['Index Name']}${node['Scan Direction'] === 'Backward' ? ' (backward)' : ''}` : '',
      node['Relation Name'] ? `on ${node['Relation Name']}` : '',
      `rows=${int(node['Actual Rows'])}${loops !== 1 ? `×${loops}` : ''}`,
      `${dec(node['Actual Total Time'], 2)} ms`,
      node['Index Cond'] ? `cond ${node['Index Cond']}` : '',
      node['Filter'] ? `filter ${node['Filter']}` : '',
      removed ? `removed=${int(removed * loops)}` : '',
      node['Sort Key'] ? `key ${node['Sort Key'].join(', ')}` : '',
      node['Presorted Key'] ? `presorted ${node['Presorted Key'].join(', ')}` : '',
      node['Sort Method'] ? `${node['Sort Method']} ${node['Sort Space Used'] ?? ''}kB ${node['Sort Space Type'] ?? ''}` : '',
      node['Workers Launched'] !== undefined ? `workers=${node['Workers Launched']}` : '',
    ].filter((p) => p !== '');
    lines.push(`${'  '.repeat(depth)}-> ${parts.join('  ')}`);
    for (const child of node.Plans ?? []) walk(child, depth + 1);
  };
  walk(explained.Plan, 0);

  const top = explained.Plan;
  const idx = indexes.size > 0 ? [...indexes].join(' + ') : 'none';
  let verdict: string;
  let bad = true;
  if (seqScanRows > 0) {
    verdict = `SEQ SCAN of ${int(seqScanRows)} rows` + (sortedRows > 0 ? `, then SORT of ${int(sortedRows)} rows (${sortMethod})` : '');
  } else if (sortedRows > BIG_ROWS) {
    verdict = `index ${idx}, but then a SORT of ${int(sortedRows)} rows (${sortMethod}) for ${int(top['Actual Rows'])}`;
  } else if (rowsRead > BIG_ROWS) {
    verdict = `index ${idx}, but reads ${int(rowsRead)} rows for ${int(top['Actual Rows'])}`;
  } else {
    verdict = `OK: index ${idx}, ${int(rowsRead)} rows read` + (sortedRows > 0 ? `, sort of ${int(sortedRows)}` : '');
    bad = false;
  }
  return {
    name,
    sql,
    executionMs: explained['Execution Time'],
    lines,
    indexes: [...indexes],
    seqScanRows,
    sortedRows,
    sortMethod,
    sortSpace,
    rowsRead,
    hitBlocks: top['Shared Hit Blocks'] ?? 0,
    readBlocks: top['Shared Read Blocks'] ?? 0,
    verdict,
    bad,
    fix: bad ? fix : undefined,
  };
}

/** The export reads a whole segment, so its plan is described rather than judged by page rules. */
function describeExportPlan(r: PlanReport): string {
  const customerIndexes = r.indexes.filter((i) => i.startsWith('customers_'));
  const read =
    r.seqScanRows > 0
      ? `seq scan of all ~${int(r.seqScanRows)} customers`
      : `${int(r.rowsRead)} customers read through ${customerIndexes.join(' + ') || 'no index'}`;
  const sort = r.sortedRows > 0 ? `, then a sort of ~${int(r.sortedRows)} rows (${r.sortMethod}, ${r.sortSpace === 'Disk' ? 'spilled to disk' : 'in memory'})` : ', no sort';
  return read + sort;
}

async function explain(deps: Deps, name: string, sql: string, params: unknown[], fix?: string): Promise<PlanReport> {
  const { rows } = await deps.pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode; 'Execution Time': number }] }>(
    `explain (analyze, buffers, format json) ${sql}`,
    params,
  );
  return analysePlan(name, sql, rows[0]!['QUERY PLAN'][0], fix);
}

async function explainListings(deps: Deps, app: FastifyInstance): Promise<PlanReport[]> {
  const captured: { sql: string; params: unknown[] }[] = [];
  const original: Db = deps.db;
  // The routes read deps.db on every request, so a logging copy over the same pool sees the exact
  // SQL and parameters; it is only in place for these few requests.
  deps.db = drizzle(deps.pool, { schema, logger: { logQuery: (sql, params) => captured.push({ sql, params }) } });
  const reports: PlanReport[] = [];
  try {
    reports.push(await explain(deps, 'baseline: pool query', POOL_SQL, []));
    for (const listing of LISTINGS) {
      if (listing.query === undefined) continue;
      checkInterrupted();
      captured.length = 0;
      const res = await app.inject({ method: 'GET', url: `/v1/customers?${listing.query}&limit=${PAGE}`, headers: AUTH });
      if (res.statusCode !== 200) throw new Error(`${listing.name}: HTTP ${res.statusCode}`);
      const query = captured.find((q) => /from "customers"/.test(q.sql) && /order by/i.test(q.sql));
      if (!query) throw new Error(`${listing.name}: listing query not captured (saw ${captured.length} queries)`);
      reports.push(await explain(deps, listing.name, query.sql, query.params, listing.fix));
    }
  } finally {
    deps.db = original;
  }
  return reports;
}

function printPlans(reports: PlanReport[]): void {
  for (const r of reports) {
    console.log(
      `\n### ${r.name}: ${r.bad ? 'PROBLEM — ' : ''}${r.verdict}\n` +
        `execution ${dec(r.executionMs, 2)} ms, buffers hit ${int(r.hitBlocks)} read ${int(r.readBlocks)}\n` +
        `${r.sql.replace(/\s+/g, ' ').replace(/^select .*? from/, 'select … from')}\n` +
        r.lines.join('\n') +
        (r.fix ? `\nsuggested index: ${r.fix}` : ''),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Export: a real listening server, the response streamed and its lines counted, RSS sampled.

/** The export route's query (src/http/segments.routes.ts), for the in-process baseline and EXPLAIN. */
const EXPORT_SQL = `select c.id as customer_id, c.traits ->> 'email' as email, c.tier, c.lifecycle_stage, c.rfm_segment, c.abc_class,
       c.value_score, c.net_revenue::text as net_revenue, c.order_count, c.last_order_at, c.at_risk, c.region
from segment_members m join customers c on c.id = m.customer_id
where m.segment_key = $1 order by m.customer_id`;

async function createSegment(deps: Deps): Promise<number> {
  const t0 = performance.now();
  await deps.pool.query(
    `insert into segments (key, name, rule, created_at, updated_at)
     values ('bench', 'Benchmark export', '{"field":"order_count","op":"gte","value":1}', now(), now())`,
  );
  // Every step-th customer: spread over the whole table (and the id order), not one block of it.
  const step = Math.floor(CUSTOMERS / MEMBERS);
  await deps.pool.query(
    `insert into segment_members (segment_key, customer_id, entered_at)
     select 'bench', 'c-' || (i * $2::int), now() from generate_series(1, $1::int) as i`,
    [MEMBERS, step],
  );
  await deps.pool.query('vacuum (analyze) segment_members');
  return (performance.now() - t0) / 1000;
}

interface ExportResult {
  format: 'csv' | 'ndjson' | 'baseline';
  round: number;
  seconds: number;
  ttfbMs: number;
  rows: number;
  bytes: number;
  lines: number;
  expectedLines: number;
  rssBefore: number;
  rssPeak: number;
  heapBefore: number;
  heapPeak: number;
  /** RSS when 25/50/75/100% of the expected lines had arrived. */
  rssAt: number[];
  /** After the run and a full garbage collection: what the run left behind. */
  rssAfterGc: number;
  heapAfterGc: number;
}

/** Lets freed pages go back to the OS (V8 releases them from background threads). */
const SETTLE_MS = 200;

/** Collects garbage (when possible) and measures what is left. */
async function settledMemory(): Promise<{ rssAfterGc: number; heapAfterGc: number }> {
  gc?.();
  await sleep(SETTLE_MS);
  const m = process.memoryUsage();
  return { rssAfterGc: m.rss, heapAfterGc: m.heapUsed };
}

async function memorySampler() {
  gc?.();
  await sleep(SETTLE_MS);
  const first = process.memoryUsage();
  const state = { rssBefore: first.rss, heapBefore: first.heapUsed, rssPeak: first.rss, heapPeak: first.heapUsed };
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > state.rssPeak) state.rssPeak = m.rss;
    if (m.heapUsed > state.heapPeak) state.heapPeak = m.heapUsed;
  };
  const timer = setInterval(sample, RSS_SAMPLE_MS);
  return {
    state,
    stop: () => {
      clearInterval(timer);
      sample();
    },
  };
}

async function runExport(baseUrl: string, agent: Agent, format: 'csv' | 'ndjson', round: number): Promise<ExportResult> {
  checkInterrupted();
  const expectedLines = format === 'csv' ? MEMBERS + 1 : MEMBERS;
  const marks = [0.25, 0.5, 0.75, 1].map((f) => Math.ceil(expectedLines * f));
  const rssAt: number[] = [];
  const sampler = await memorySampler();
  const t0 = performance.now();
  let ttfbMs = Number.NaN;
  let bytes = 0;
  let lines = 0;
  let lastByte = 10;
  try {
    const res = await request(`${baseUrl}/v1/segments/bench/export?format=${format}`, { headers: AUTH, dispatcher: agent });
    if (res.statusCode !== 200) throw new Error(`export ${format}: HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`);
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (Number.isNaN(ttfbMs)) ttfbMs = performance.now() - t0;
      bytes += chunk.length;
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
      lastByte = chunk[chunk.length - 1] ?? lastByte;
      while (rssAt.length < marks.length && lines >= marks[rssAt.length]!) rssAt.push(process.memoryUsage.rss());
    }
  } finally {
    sampler.stop();
  }
  if (lastByte !== 10) lines++;
  const seconds = (performance.now() - t0) / 1000;
  return {
    format, round, seconds, ttfbMs, rows: format === 'csv' ? lines - 1 : lines, bytes, lines, expectedLines, rssAt,
    ...sampler.state, ...(await settledMemory()),
  };
}

/** The same query through pg-query-stream in this process, rows counted: no HTTP, no encoding. */
async function runExportBaseline(deps: Deps, round: number): Promise<ExportResult> {
  checkInterrupted();
  const sampler = await memorySampler();
  const client = await deps.pool.connect();
  const t0 = performance.now();
  let ttfbMs = Number.NaN;
  let rows = 0;
  try {
    const stream = client.query(new QueryStream(EXPORT_SQL, ['bench'], { batchSize: 1000 }));
    for await (const _row of stream) {
      if (rows === 0) ttfbMs = performance.now() - t0;
      rows++;
    }
  } finally {
    client.release();
    sampler.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    format: 'baseline', round, seconds, ttfbMs, rows, bytes: 0, lines: rows, expectedLines: MEMBERS, rssAt: [],
    ...sampler.state, ...(await settledMemory()),
  };
}

function reportExports(results: ExportResult[]): string[] {
  const problems: string[] = [];
  const perRun = results.map((r) => {
    if (r.lines !== r.expectedLines) problems.push(`export ${r.format} round ${r.round}: ${r.lines} lines, expected ${r.expectedLines}`);
    return [
      r.format === 'baseline' ? 'baseline (query stream)' : r.format,
      String(r.round),
      dec(r.seconds, 2),
      int(r.rows / r.seconds),
      dec(r.ttfbMs, 1),
      r.format === 'baseline' ? '–' : mib(r.bytes),
      int(r.lines),
      mib(r.rssBefore),
      mib(r.rssPeak),
      `+${mib(r.rssPeak - r.rssBefore)}`,
      r.rssAt.length ? r.rssAt.map(mib).join(' / ') : '–',
      `${mib(r.heapBefore)} → ${mib(r.heapPeak)}`,
      `${mib(r.rssAfterGc)} / ${mib(r.heapAfterGc)}`,
    ];
  });
  console.log(
    `\n## Export of ${int(MEMBERS)} segment members (every run; RSS of this whole process — server and client — sampled every ${RSS_SAMPLE_MS} ms; MiB;` +
      ` ${gc ? '"before" and "after GC" follow a full garbage collection' : 'no forced garbage collection available'})\n\n` +
      table(
        ['format', 'round', 'seconds', 'rows/s', 'first byte ms', 'MiB sent', 'lines', 'RSS before', 'RSS peak', 'peak − before', 'RSS at 25/50/75/100% of lines', 'heap used before → peak', 'after GC: RSS / heap used'],
        perRun,
      ),
  );
  const formats = ['baseline', 'csv', 'ndjson'] as const;
  const baselineRate = median(results.filter((r) => r.format === 'baseline').map((r) => r.rows / r.seconds));
  const summary = formats.map((f) => {
    const rs = results.filter((r) => r.format === f);
    const rate = median(rs.map((r) => r.rows / r.seconds));
    return [
      f === 'baseline' ? 'baseline (query stream)' : f,
      dec(median(rs.map((r) => r.seconds)), 2),
      int(rate),
      dec(rate / baselineRate, 2),
      f === 'baseline' ? '–' : mib(median(rs.map((r) => r.bytes))),
      `+${mib(Math.max(...rs.map((r) => r.rssPeak - r.rssBefore)))}`,
      `+${mib(median(rs.map((r) => r.rssPeak - r.rssBefore)))}`,
    ];
  });
  console.log(
    `\n## Export summary (median of ${EXPORT_RUNS} run(s))\n\n` +
      table(['format', 'seconds', 'rows/s', 'rows/s ÷ baseline', 'MiB sent', 'max RSS peak − before', 'median RSS peak − before'], summary),
  );
  return problems;
}

async function main(): Promise<number> {
  const started = performance.now();
  console.log(
    `Tierwise listing/export benchmark — ${machine()}\n` +
      `${int(CUSTOMERS)} customers, ${WARMUP} warm-up + ${REQUESTS} measured first pages (limit ${PAGE}) per scenario, ` +
      `${int(MEMBERS)} segment members × ${EXPORT_RUNS} export round(s); database and queue prefix ${NAME}\n`,
  );
  await createDatabase();
  let deps: Deps | undefined;
  let app: FastifyInstance | undefined;
  const agent = new Agent();
  try {
    const config = benchConfig({
      TIERWISE_ADMIN_KEY: ADMIN_KEY,
      RATE_LIMIT_MAX: 1_000_000,
    });
    deps = createDeps(config);
    await migrateDb(deps.db);
    await waitForRedis(deps.redis);
    const settings = await deps.pool.query<{ sb: string; wm: string; v: string }>(
      `select current_setting('shared_buffers') as sb, current_setting('work_mem') as wm, current_setting('server_version') as v`,
    );
    const s = settings.rows[0]!;
    console.log(`Postgres ${s.v}, shared_buffers ${s.sb}, work_mem ${s.wm}`);

    // 1. Data.
    console.log(`\n## Generating ${int(CUSTOMERS)} customers (insert … select … from generate_series, ${int(GENERATE_CHUNK)} per statement)`);
    const generated = await generateCustomers(deps, new Date());
    console.log(
      `generation ${dec(generated.generateS, 1)} s (${int(CUSTOMERS / generated.generateS)} rows/s, indexes maintained), ` +
        `vacuum analyze ${dec(generated.vacuumS, 1)} s; table ${mib(generated.tableBytes)} MiB, with indexes ${mib(generated.totalBytes)} MiB`,
    );
    console.log((await distributions(deps)).join('\n'));

    // 2. Listing.
    app = await buildApp(deps);
    console.log(`\n## First pages (interleaved rounds)`);
    const listings = await measureListings(deps, app);
    const plans = await explainListings(deps, app);
    const planOf = (name: string) => plans.find((p) => p.name === name);
    const base = (name: string) => listings.find((l) => l.listing.name === name)!;
    const poolP50 = percentile(base('baseline: pool query').samples, 50);
    const idP50 = percentile(base('baseline: sort=id').samples, 50);
    const idP99 = percentile(base('baseline: sort=id').samples, 99);
    console.log(
      `\n## First-page latency, ${int(CUSTOMERS)} customers (${REQUESTS} requests each after ${WARMUP} warm-up, app.inject, limit ${PAGE}; ms)\n\n` +
        table(
          ['request', 'matching customers', 'items', 'p50 ms', 'p99 ms', 'p50 ÷ sort=id', 'p99 ÷ sort=id', 'p50 ÷ pool query', 'plan'],
          listings.map((l) => {
            const p50 = percentile(l.samples, 50);
            const p99 = percentile(l.samples, 99);
            const plan = planOf(l.listing.name);
            return [
              l.listing.query === undefined ? `baseline: \`${POOL_SQL}\` (pool)` : `${l.listing.query === 'sort=id' ? 'baseline: ' : ''}\`?${l.listing.query}\``,
              `${int(l.matching)} (${pct(l.matching / CUSTOMERS)})`,
              l.listing.query === undefined ? String(PAGE) : `${l.items}${l.hasNext ? ' +next' : ''}`,
              dec(p50, 2),
              dec(p99, 2),
              dec(p50 / idP50, 2),
              dec(p99 / idP99, 2),
              dec(p50 / poolP50, 1),
              plan ? (plan.bad ? `**${plan.verdict}**` : plan.verdict) : 'n/a',
            ];
          }),
        ),
    );
    console.log(`\n## EXPLAIN (ANALYZE, BUFFERS) of each listing query (captured from the route; run once, warm)`);
    printPlans(plans);
    const problems = listings.flatMap((l) => l.problems);

    console.log(`\n## Dashboard reports, ${int(CUSTOMERS)} customers (${REPORT_REQUESTS} requests each after 2 warm-up, app.inject; ms)\n`);
    const reports = await measureReports(app);
    console.log(table(['request', 'p50 ms', 'p99 ms'], reports.map((r) => [`\`${r.url}\``, dec(percentile(r.samples, 50), 1), dec(percentile(r.samples, 99), 1)])));
    problems.push(...reports.flatMap((r) => r.problems));

    // 3. Export.
    console.log(`\n## Export`);
    const segmentS = await createSegment(deps);
    console.log(`segment 'bench' with ${int(MEMBERS)} members inserted (and vacuum analyze) in ${dec(segmentS, 1)} s`);
    const exportPlan = await explain(deps, 'export query', EXPORT_SQL, ['bench']);
    console.log(
      `export query plan (EXPLAIN ANALYZE, the whole result): ${describeExportPlan(exportPlan)}\n` +
        `execution ${dec(exportPlan.executionMs, 0)} ms, buffers hit ${int(exportPlan.hitBlocks)} read ${int(exportPlan.readBlocks)}\n` +
        exportPlan.lines.join('\n'),
    );
    const baseUrl = await listenLocal(app);
    const exports: ExportResult[] = [];
    for (let round = 1; round <= EXPORT_RUNS; round++) {
      for (const run of [() => runExportBaseline(deps!, round), () => runExport(baseUrl, agent, 'csv', round), () => runExport(baseUrl, agent, 'ndjson', round)]) {
        const r = await run();
        exports.push(r);
        console.log(
          `round ${round}/${EXPORT_RUNS} ${r.format.padEnd(8)} ${dec(r.seconds, 2)} s  ${int(r.rows / r.seconds)} rows/s  ${int(r.lines)} lines  ` +
            `RSS ${mib(r.rssBefore)} → peak ${mib(r.rssPeak)} MiB`,
        );
      }
    }
    problems.push(...reportExports(exports));

    // Findings.
    const badPlans = plans.filter((p) => p.bad);
    console.log(`\n## Findings`);
    if (badPlans.length === 0) console.log(`Every listing query reads fewer than ${int(BIG_ROWS)} rows for its first page through an index.`);
    for (const p of badPlans) {
      console.log(`- ${p.name}: ${p.verdict}${p.fix ? `\n  suggested index: ${p.fix}` : ''}`);
    }
    for (const p of plans.filter((p) => !p.bad)) console.log(`- ${p.name}: ${p.verdict}`);
    console.log(
      `- export query (${int(MEMBERS)} of ${int(CUSTOMERS)} customers): ${describeExportPlan(exportPlan)}; ` +
        `first row after ${dec(median(exports.filter((e) => e.format === 'baseline').map((e) => e.ttfbMs)), 0)} ms (median, query stream)`,
    );
    for (const format of ['csv', 'ndjson'] as const) {
      const runs = exports.filter((e) => e.format === format);
      const growth = runs.map((e) => e.rssPeak - e.rssBefore);
      console.log(
        `- export ${format}: ${mib(median(runs.map((e) => e.bytes)))} MiB of ${int(MEMBERS)} rows streamed; RSS peak − before at most ` +
          `+${mib(Math.max(...growth))} MiB (median +${mib(median(growth))}); heap used after GC ` +
          `${runs.map((e) => mib(e.heapAfterGc)).join(' → ')} MiB over the rounds`,
      );
    }
    console.log(`\ntotal time ${dec((performance.now() - started) / 1000, 0)} s`);

    if (problems.length > 0) {
      console.log(`\nINVALID RUN:\n- ${problems.join('\n- ')}`);
      return 1;
    }
    console.log('\nAll responses as expected (status, item count, filter, order; export line counts).');
    return 0;
  } finally {
    await cleanupStep('closing the HTTP client', () => agent.close());
    await cleanupStep('closing the API', async () => app?.close());
    await cleanupStep('closing pools', async () => deps?.close());
    await removeThrowaways();
  }
}

runMain(main);
