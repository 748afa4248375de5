import { and, asc, desc, eq, gt, gte, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { customers } from './schema.ts';
import { customerJson, type Playbooks } from './customers.repo.ts';

export const CUSTOMER_SORTS = ['id', 'net_revenue', '-net_revenue', 'last_order_at', '-last_order_at'] as const;
export type CustomerSort = (typeof CUSTOMER_SORTS)[number];

export interface CustomerFilters {
  tier?: string | undefined;
  lifecycle_stage?: string | undefined;
  rfm_segment?: string | undefined;
  abc_class?: string | undefined;
  at_risk?: boolean | undefined;
  region?: string | undefined;
  preferred_channel?: string | undefined;
  price_sensitivity?: string | undefined;
  min_net_revenue?: string | undefined;
  max_recency_days?: number | undefined;
  segment?: string | undefined;
  r_score?: number | undefined;
  f_score?: number | undefined;
  m_score?: number | undefined;
}

/**
 * The sort key and the id: a total order, so keyset pages never skip or repeat a customer.
 * Prospects (no order) sort as if their last order were at -infinity; `order` is the same order
 * on the column itself (nulls first ascending, last descending), which customers_last_order_idx
 * serves, so no index on the coalesce expression is needed.
 */
const lastOrderKey = sql`coalesce(${customers.lastOrderAt}, '-infinity'::timestamptz)`;
const SORT_KEYS: Record<CustomerSort, { expr: SQL | typeof customers.id; order?: SQL; descending: boolean; kind: 'text' | 'numeric' | 'time' }> = {
  id: { expr: customers.id, descending: false, kind: 'text' },
  net_revenue: { expr: sql`${customers.netRevenue}`, descending: false, kind: 'numeric' },
  '-net_revenue': { expr: sql`${customers.netRevenue}`, descending: true, kind: 'numeric' },
  last_order_at: { expr: lastOrderKey, order: sql`${customers.lastOrderAt} asc nulls first`, descending: false, kind: 'time' },
  '-last_order_at': { expr: lastOrderKey, order: sql`${customers.lastOrderAt} desc nulls last`, descending: true, kind: 'time' },
};

export function filterConditions(f: CustomerFilters, now: Date): SQL | undefined {
  return and(
    f.tier !== undefined ? eq(customers.tier, f.tier) : undefined,
    f.lifecycle_stage !== undefined ? eq(customers.lifecycleStage, f.lifecycle_stage) : undefined,
    f.rfm_segment !== undefined ? eq(customers.rfmSegment, f.rfm_segment) : undefined,
    f.abc_class !== undefined ? eq(customers.abcClass, f.abc_class) : undefined,
    f.at_risk !== undefined ? eq(customers.atRisk, f.at_risk) : undefined,
    f.region !== undefined ? eq(customers.region, f.region) : undefined,
    f.preferred_channel !== undefined ? eq(customers.preferredChannel, f.preferred_channel) : undefined,
    f.price_sensitivity !== undefined ? eq(customers.priceSensitivity, f.price_sensitivity) : undefined,
    f.min_net_revenue !== undefined ? gte(customers.netRevenue, f.min_net_revenue) : undefined,
    f.max_recency_days !== undefined
      ? gte(customers.lastOrderAt, new Date(now.getTime() - f.max_recency_days * 86_400_000))
      : undefined,
    f.r_score !== undefined ? eq(customers.rScore, f.r_score) : undefined,
    f.f_score !== undefined ? eq(customers.fScore, f.f_score) : undefined,
    f.m_score !== undefined ? eq(customers.mScore, f.m_score) : undefined,
    f.segment !== undefined
      ? sql`exists (select 1 from segment_members m where m.segment_key = ${f.segment} and m.customer_id = ${customers.id})`
      : undefined,
  );
}

export async function listCustomers(
  db: DbOrTx,
  options: {
    filters: CustomerFilters;
    sort: CustomerSort;
    limit: number;
    after?: { key: string; id: string } | undefined;
    now: Date;
    playbooks: Playbooks;
    /** the currency's minor-unit digits, for money (formatMoney) */
    minorDigits: number;
  },
) {
  const key = SORT_KEYS[options.sort];
  const after = options.after;
  let page: SQL | undefined;
  if (after) {
    const value =
      key.kind === 'numeric' ? sql`${after.key}::numeric` : key.kind === 'time' ? sql`${after.key}::timestamptz` : sql`${after.key}`;
    const beyond = key.descending ? sql`<` : sql`>`;
    page =
      options.sort === 'id'
        ? gt(customers.id, after.id)
        : sql`(${key.expr} ${beyond} ${value} or (${key.expr} = ${value} and ${customers.id} > ${after.id}))`;
  }
  const order = options.sort === 'id' ? [asc(customers.id)] : [key.order ?? (key.descending ? desc(key.expr) : asc(key.expr)), asc(customers.id)];
  return db
    .select({ id: customers.id, json: customerJson(options.playbooks, options.now, options.minorDigits), sortKey: sql<string>`(${key.expr})::text` })
    .from(customers)
    .where(and(filterConditions(options.filters, options.now), page))
    .orderBy(...order)
    .limit(options.limit);
}
