import { desc, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { customers, populationStats } from './schema.ts';

export interface PopulationStats {
  version: number;
  computedAt: Date;
  buyers: number;
  breakpoints: { recency_days: number[]; order_count: number[]; net_revenue: number[] } | null;
  abc: { a_min: string | null; b_min: string | null } | null;
}

/**
 * Counted orders (not cancelled, net of refunds > 0) as of an instant, straight from the stored
 * events: `customer_id, occurred_at, net`. The model fit and a statistics refresh before a
 * rescore of everyone read this, so neither depends on how many customers have been recomputed
 * yet (the daily refresh reads the customers' stored figures instead, buyersFromStoredState). `freeOrders` also keeps
 * orders of amount 0 that have no refund (the model's purchases, modelPurchases in
 * domain/facts/metrics.orders.ts); net is floored at 0 as in the domain.
 */
export const countedOrdersAsOf = (now: Date, options: { freeOrders?: boolean; customers?: SQL } = {}) => {
  // `customers`: a query of the customer ids whose orders are wanted (all of them when absent).
  const of = options.customers ? sql`and customer_id in (${options.customers})` : sql``;
  return sql`
  with orders as (
    select customer_id, order_id, occurred_at, (data ->> 'amount')::numeric as amount
    from events where type = 'order' and occurred_at <= ${now} ${of}
  ), refunds as (
    select customer_id, order_id, coalesce(sum((data ->> 'amount')::numeric), 0) as refunded,
      bool_or(coalesce((data ->> 'whole_order')::boolean, false)) as whole_order
    from events where type = 'refund' and occurred_at <= ${now} ${of}
    group by 1, 2
  )
  select o.customer_id, o.occurred_at, greatest(o.amount - coalesce(r.refunded, 0), 0) as net
  from orders o
  left join refunds r using (customer_id, order_id)
  -- a whole-order refund (no amount) takes the order's net value to 0, as in the domain
  where (o.amount - coalesce(r.refunded, 0) > 0${options.freeOrders ? sql` or (o.amount = 0 and r.order_id is null)` : sql``})
    and r.whole_order is not true
    and not exists (
      select 1 from events c
      where c.type = 'order_cancelled' and c.customer_id = o.customer_id ${of}
        and c.order_id = o.order_id and c.occurred_at <= ${now})`;
};

/** Per-buyer order count, net revenue and last order, from the events (of `customers` only, if given). */
const buyersFromEvents = (now: Date, customers?: SQL) => sql`
  with counted as (${countedOrdersAsOf(now, { customers })})
  select customer_id, count(*)::int as order_count, sum(net) as net_revenue,
    -- in whole milliseconds, as the domain (and so the customers table) holds instants
    date_trunc('milliseconds', max(occurred_at)) as last_order_at
  from counted group by customer_id`;

/**
 * The same figures from the customers table where the stored state is current at `now`: derived,
 * and not due for review (a review falls at the latest when a stored event comes of age, so until
 * then the stored order count, net revenue and last order are what the events give). Only the
 * customers never derived or due are read from their events. Reads narrow columns of the
 * customers table instead of every event: the daily refresh costs a scan of the customers.
 */
const buyersFromStoredState = (now: Date) => {
  const current = sql`${customers.computedAt} is not null and (${customers.nextReviewAt} is null or ${customers.nextReviewAt} > ${now})`;
  return sql`
  select ${customers.id} as customer_id, ${customers.orderCount} as order_count, ${customers.netRevenue} as net_revenue, ${customers.lastOrderAt} as last_order_at
  from ${customers} where ${current} and ${customers.orderCount} > 0
  union all
  (${buyersFromEvents(now, sql`select ${customers.id} from ${customers} where not (${current})`)})`;
};

/**
 * Computes RFM breakpoints (percentile_cont) and ABC cut-offs over buyers and stores them as a new
 * version. `from: 'stored'` (the daily refresh) takes each buyer's figures from its stored state
 * where that is current (buyersFromStoredState); otherwise (a rescore of everyone, an import) from
 * the events, so they do not depend on how many customers have been derived yet.
 */
export async function refreshPopulationStats(db: DbOrTx, now: Date, options: { from?: 'events' | 'stored' } = {}): Promise<PopulationStats> {
  const buyersAsOf = options.from === 'stored' ? buyersFromStoredState : buyersFromEvents;
  const result = await db.execute<{
    buyers: number;
    recency: number[] | null;
    frequency: number[] | null;
    monetary: string[] | null;
    a_min: string | null;
    b_min: string | null;
  }>(sql`
    with buyers as (${buyersAsOf(now)}),
    ranked as (
      select net_revenue,
        row_number() over w as rn,
        sum(net_revenue) over w as cumulative,
        sum(net_revenue) over () as total
      from buyers
      window w as (order by net_revenue desc, customer_id rows between unbounded preceding and current row)
    ),
    classed as (
      select net_revenue,
        case when rn = 1 or cumulative <= 0.8 * total then 'A'
             when cumulative <= 0.95 * total then 'B' else 'C' end as class
      from ranked
    )
    select
      (select count(*)::int from buyers) as buyers,
      (select percentile_cont(array[0.2, 0.4, 0.6, 0.8]) within group (
         order by extract(epoch from (${now}::timestamptz - last_order_at)) / 86400) from buyers) as recency,
      (select percentile_cont(array[0.2, 0.4, 0.6, 0.8]) within group (order by order_count) from buyers) as frequency,
      (select percentile_cont(array[0.2, 0.4, 0.6, 0.8]) within group (order by net_revenue) from buyers)::text[] as monetary,
      (select min(net_revenue)::text from classed where class = 'A') as a_min,
      (select min(net_revenue)::text from classed where class = 'B') as b_min`);
  const row = result.rows[0]!;
  const breakpoints =
    row.buyers > 0 && row.recency && row.frequency && row.monetary
      ? { recency_days: row.recency.map(Number), order_count: row.frequency.map(Number), net_revenue: row.monetary.map(Number) }
      : null;
  const abc = row.buyers > 0 ? { a_min: row.a_min, b_min: row.b_min } : null;
  const [stored] = await db
    .insert(populationStats)
    .values({
      version: sql`(select coalesce(max(version), 0) + 1 from ${populationStats})`,
      computedAt: now,
      buyers: row.buyers,
      breakpoints,
      abc,
    })
    .returning();
  return toStats(stored!);
}

/** Serializes population-statistics refreshes across processes. */
const STATS_LOCK = 0x7469_6572;

/** refreshPopulationStats under a transaction-level advisory lock: concurrent refreshes queue instead of racing for a version. */
export async function refreshPopulationStatsLocked(db: DbOrTx, now: Date, options: { from?: 'events' | 'stored' } = {}): Promise<PopulationStats> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${STATS_LOCK})`);
    return refreshPopulationStats(tx, now, options);
  });
}

export async function latestPopulationStats(db: DbOrTx): Promise<PopulationStats | undefined> {
  const [row] = await db.select().from(populationStats).orderBy(desc(populationStats.version)).limit(1);
  return row ? toStats(row) : undefined;
}

/** When the population statistics in force were computed; null before the first computation. */
export async function latestStatsComputedAt(db: DbOrTx): Promise<Date | null> {
  const [row] = await db.select({ at: populationStats.computedAt }).from(populationStats).orderBy(desc(populationStats.version)).limit(1);
  return row?.at ?? null;
}

function toStats(row: typeof populationStats.$inferSelect): PopulationStats {
  return {
    version: row.version,
    computedAt: row.computedAt,
    buyers: row.buyers,
    breakpoints: row.breakpoints as PopulationStats['breakpoints'],
    abc: row.abc,
  };
}
