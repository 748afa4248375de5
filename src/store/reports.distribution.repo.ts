import { sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { formatMoney } from '../domain/money.ts';
import { rfmSegment } from '../domain/scoring/scores.ts';
import { AT_RISK_REASON_CODES } from '../domain/lifecycle/lifecycle.types.ts';

const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

/** Buyers per (R, F) cell: one grouped pass over the (r_score, f_score) index; all 25 cells, empty ones as 0. */
export async function rfmGrid(db: DbOrTx, minorDigits: number) {
  const rows = await db.execute<{ r: number; f: number; customers: number; net_revenue: string }>(sql`
    select r_score as r, f_score as f, count(*)::int as customers, sum(net_revenue)::text as net_revenue
    from customers where r_score is not null and f_score is not null group by 1, 2`);
  const found = new Map(rows.rows.map((row) => [`${row.r}:${row.f}`, row]));
  const cells = [];
  for (let r = 5; r >= 1; r--) {
    for (let f = 1; f <= 5; f++) {
      const row = found.get(`${r}:${f}`);
      cells.push({ r_score: r, f_score: f, segment: rfmSegment(r, f), customers: row?.customers ?? 0, net_revenue: formatMoney(row?.net_revenue ?? '0', minorDigits) });
    }
  }
  return { buyers: cells.reduce((n, c) => n + c.customers, 0), cells };
}

/**
 * Step of the revenue buckets of the Pareto curve: buyers are grouped by ln(net revenue) in steps
 * of 1/40 (each bucket's upper bound is e^(1/40) ≈ 1.025 times its lower one: about 2.5% wide in
 * net revenue per buyer). Grouping needs one hash aggregate instead of a sort
 * of every buyer, and each point of the curve is still exact: the share of buyers with at least a
 * bucket's lower bound, and the share of revenue they bring.
 */
const BUCKETS_PER_E = 40;

/** Cumulative revenue share by cumulative buyer share, biggest spenders first (the ABC/Lorenz curve). */
export async function paretoCurve(db: DbOrTx, minorDigits: number) {
  const rows = await db.execute<{ bucket: number; buyers: number; net_revenue: string }>(sql`
    select floor(ln(net_revenue::float8) * ${BUCKETS_PER_E})::int as bucket, count(*)::int as buyers, sum(net_revenue)::text as net_revenue
    from customers where order_count > 0 and net_revenue > 0 group by 1 order by 1 desc`);
  const buyers = rows.rows.reduce((n, r) => n + r.buyers, 0);
  const revenue = rows.rows.reduce((n, r) => n + Number(r.net_revenue), 0);
  let cumBuyers = 0;
  let cumRevenue = 0;
  const points = [{ buyer_share: 0, revenue_share: 0, min_net_revenue: null as string | null }];
  for (const r of rows.rows) {
    cumBuyers += r.buyers;
    cumRevenue += Number(r.net_revenue);
    points.push({ buyer_share: share(cumBuyers, buyers), revenue_share: share(cumRevenue, revenue), min_net_revenue: Math.exp(r.bucket / BUCKETS_PER_E).toFixed(minorDigits) });
  }
  return { buyers, points };
}

/** At-risk customers and their revenue, in total and per reason (a customer counts once per reason it has). */
export async function atRiskBreakdown(db: DbOrTx, minorDigits: number) {
  const fmt = (value: string) => formatMoney(value, minorDigits);
  const [totals, reasons] = await Promise.all([
    db.execute<{ customers: number; net_revenue: string }>(sql`
      select count(*)::int as customers, coalesce(sum(net_revenue), 0)::text as net_revenue from customers where at_risk`),
    db.execute<{ code: string; customers: number; net_revenue: string }>(sql`
      select r ->> 'code' as code, count(*)::int as customers, coalesce(sum(net_revenue), 0)::text as net_revenue
      from customers, jsonb_array_elements(at_risk_reasons) r where at_risk group by 1`),
  ]);
  const found = new Map(reasons.rows.map((r) => [r.code, r]));
  const known: readonly string[] = AT_RISK_REASON_CODES;
  const codes = [...AT_RISK_REASON_CODES, ...reasons.rows.map((r) => r.code).filter((c) => !known.includes(c))];
  const { customers, net_revenue } = totals.rows[0]!;
  return {
    customers,
    net_revenue: fmt(net_revenue),
    by_reason: codes.map((code) => ({ code, customers: found.get(code)?.customers ?? 0, net_revenue: fmt(found.get(code)?.net_revenue ?? '0') })),
  };
}

/** Members per saved segment, counted on the membership primary key (segment_key, customer_id). */
export async function segmentSizes(db: DbOrTx) {
  const rows = await db.execute<{ key: string; members: number }>(sql`
    select s.key, coalesce(m.members, 0)::int as members
    from segments s left join (select segment_key, count(*) as members from segment_members group by 1) m on m.segment_key = s.key
    order by s.key`);
  return rows.rows;
}
