/** Due-review sweep with a share of the customers due, and the first pages of three segment filters. */
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import { request } from 'undici';
import type { Deps } from '../src/deps.ts';
import { sweepDueReviews } from '../src/services/sweep.service.ts';
import { median } from './support.ts';
import { waitForRecomputes } from './scale.rescore.ts';

export interface SweepResult {
  due: number;
  /** The sweep itself: finding the due customers through the index and asking for their recomputes. */
  sweepSeconds: number;
  /** From the start of the sweep until every due customer is recomputed by the worker process. */
  untilRecomputedSeconds: number;
  /** Baseline: the same due customers found with a plain indexed count. */
  countSeconds: number;
}

/**
 * Makes `share` of the customers due one minute ago, then sweeps. The rows' state fingerprints are
 * cleared with them: a recompute writes a row only when its derived state differs from the stored
 * fingerprint, and the review instant put in the past here is not in the fingerprint, so without
 * that those customers would stay due and be derived again by every later daily refresh.
 */
export async function measureSweep(deps: Deps, share: number): Promise<SweepResult> {
  const now = deps.clock.now();
  await deps.db.execute(sql`update customers set next_review_at = ${new Date(now.getTime() - 60_000)}, state_hash = null
    where ('x' || substr(md5(id), 1, 8))::bit(32)::bigint < ${Math.floor(share * 4294967296)}`);
  await deps.db.execute(sql`vacuum (analyze) customers`);
  const c0 = performance.now();
  const counted = await deps.db.execute<{ n: number }>(sql`select count(*)::int as n from customers where next_review_at <= ${now}`);
  const countSeconds = (performance.now() - c0) / 1000;
  const t0 = performance.now();
  const { due } = await sweepDueReviews(deps);
  const sweepSeconds = (performance.now() - t0) / 1000;
  await waitForRecomputes(deps, 600_000);
  const untilRecomputedSeconds = (performance.now() - t0) / 1000;
  if (due < counted.rows[0]!.n) throw new Error(`sweep found ${due} due customers, expected ${counted.rows[0]!.n}`);
  return { due, sweepSeconds, untilRecomputedSeconds, countSeconds };
}

export const SEGMENT_FILTERS = [
  { name: 'tier=high, by net revenue', query: 'tier=high&sort=-net_revenue' },
  { name: 'lifecycle at_risk in one region', query: 'lifecycle_stage=at_risk&region=r7' },
  { name: 'champions by last order', query: 'rfm_segment=champions&sort=-last_order_at' },
];

export interface PageTimes {
  name: string;
  p50: number;
  p99: number;
  items: number;
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

/** First pages (limit 100) over HTTP against the API process, sequentially. */
export async function measureFirstPages(baseUrl: string, key: string, requests: number): Promise<PageTimes[]> {
  const results: PageTimes[] = [];
  for (const filter of SEGMENT_FILTERS) {
    const times: number[] = [];
    let items = 0;
    for (let i = 0; i < requests + 20; i++) {
      const t0 = performance.now();
      const res = await request(`${baseUrl}/v1/customers?limit=100&${filter.query}`, { headers: { authorization: `Bearer ${key}` } });
      const body = (await res.body.json()) as { items?: unknown[] };
      const ms = performance.now() - t0;
      if (res.statusCode !== 200) throw new Error(`${filter.query}: HTTP ${res.statusCode}`);
      items = body.items?.length ?? 0;
      if (i >= 20) times.push(ms);
    }
    results.push({ name: filter.name, p50: median(times), p99: quantile(times, 0.99), items });
  }
  return results;
}
