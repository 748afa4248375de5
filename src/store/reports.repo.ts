import { sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';

export const BREAKDOWNS = { tier: 'tier', lifecycle_stage: 'lifecycle_stage', rfm_segment: 'rfm_segment', abc_class: 'abc_class' } as const;
type Breakdown = keyof typeof BREAKDOWNS;

interface Group {
  key: string | null;
  customers: number;
  share: number;
  net_revenue: string;
  revenue_share: number;
}

/** One pass per breakdown over the customers table; shares are of all customers and of all net revenue. */
export async function summaryReport(db: DbOrTx) {
  const totals = (
    await db.execute<{ customers: number; buyers: number; revenue: string; at_risk: number; at_risk_revenue: string }>(sql`
      select count(*)::int as customers,
        count(*) filter (where order_count > 0)::int as buyers,
        coalesce(sum(net_revenue), 0)::text as revenue,
        count(*) filter (where at_risk)::int as at_risk,
        coalesce(sum(net_revenue) filter (where at_risk), 0)::text as at_risk_revenue
      from customers`)
  ).rows[0]!;
  const revenue = Number(totals.revenue);
  const share = (part: number, whole: number) => (whole > 0 ? part / whole : 0);

  const breakdown = async (by: Breakdown): Promise<Group[]> => {
    const rows = await db.execute<{ key: string | null; customers: number; net_revenue: string }>(sql`
      select ${sql.identifier(BREAKDOWNS[by])} as key, count(*)::int as customers, sum(net_revenue)::text as net_revenue
      from customers group by 1 order by 2 desc, 1`);
    return rows.rows.map((r) => ({
      key: r.key,
      customers: r.customers,
      share: share(r.customers, totals.customers),
      net_revenue: r.net_revenue,
      revenue_share: share(Number(r.net_revenue), revenue),
    }));
  };

  // Pareto: the revenue share of the top 20% of buyers by net revenue.
  const pareto = (
    await db.execute<{ top: string }>(sql`
      select coalesce(sum(net_revenue), 0)::text as top from (
        select net_revenue from customers where order_count > 0
        order by net_revenue desc limit ceil(${totals.buyers}::numeric * 0.2)
      ) t`)
  ).rows[0]!;

  return {
    customers: totals.customers,
    buyers: totals.buyers,
    prospects: totals.customers - totals.buyers,
    net_revenue: totals.revenue,
    by_tier: await breakdown('tier'),
    by_lifecycle_stage: await breakdown('lifecycle_stage'),
    by_rfm_segment: await breakdown('rfm_segment'),
    by_abc_class: await breakdown('abc_class'),
    at_risk: { customers: totals.at_risk, net_revenue: totals.at_risk_revenue, revenue_share: share(Number(totals.at_risk_revenue), revenue) },
    top_20_percent_revenue_share: share(Number(pareto.top), revenue),
  };
}

/** Tier of every customer at `from` and at `to`, from the tier history; counts each pair. */
export async function tierMigration(db: DbOrTx, from: Date, to: Date) {
  const rows = await db.execute<{ from_tier: string | null; to_tier: string | null; customers: number }>(sql`
    with at_from as (
      select distinct on (customer_id) customer_id, after #>> '{}' as tier
      from customer_history where kind = 'tier' and changed_at <= ${from}
      order by customer_id, changed_at desc, id desc
    ), at_to as (
      select distinct on (customer_id) customer_id, after #>> '{}' as tier
      from customer_history where kind = 'tier' and changed_at <= ${to}
      order by customer_id, changed_at desc, id desc
    )
    select f.tier as from_tier, t.tier as to_tier, count(*)::int as customers
    from at_from f full join at_to t using (customer_id)
    where f.tier is not null or t.tier is not null
    group by 1, 2 order by 1 nulls first, 2 nulls first`);
  return rows.rows;
}
