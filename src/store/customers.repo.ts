import { eq, lte, min, sql, type SQL } from 'drizzle-orm';
import type { CustomerView } from '../domain/customer/customer.view.ts';
import type { Playbook } from '../domain/policy/policy.ts';
import type { DbOrTx } from './db.ts';
import { customerHistory, customers, events, segmentMembers } from './schema.ts';
import { moneyText } from './money.sql.ts';
import { purgeUndeliveredMessages } from './webhooks.repo.ts';
import { eraseMergedIdentities, lockIdentities } from './identity.repo.ts';

/** Tier key → its playbook under the policy in force. */
export type Playbooks = Record<string, Playbook | null>;

/**
 * A customer as the API shows it (customerSchema), as JSON text written by Postgres: a page of a
 * hundred customers goes out as the database wrote it, without parsing their jsonb into objects in
 * Node, checking them against the schema and stringifying them again. Instants as
 * Date#toISOString() writes them, money as formatMoney() does (moneyText), segment keys in code
 * point order. Predictions are null until a model is in force and without a model purchase (a
 * prospect whose only orders are free still has predictions); p_alive is never null when anything
 * was predicted. The tier's playbook comes from a jsonb parameter (Playbooks).
 *
 * The metrics come from their columns (docs/architecture.md, Storage); null until the first
 * recompute. The two that grow with time, `recency_days` and `tenure_days`, are measured up to
 * `now` (the request's instant) as ageDays (domain/time.ts) measures them, float8 ms over a day's
 * ms: nothing else stored changes without a review, so a state a rescore leaves as it is still
 * reads as of now.
 */
export function customerJson(playbooks: Playbooks, now: Date, minorDigits: number): SQL<string> {
  const iso = (column: string) => sql.raw(`to_char("customers"."${column}" at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
  const daysSince = (column: 'last_order_at' | 'first_event_at') =>
    sql`(extract(epoch from (${now.toISOString()}::timestamptz - "customers".${sql.raw(`"${column}"`)})) * 1000)::float8 / 86400000`;
  const money = (column: 'net_revenue' | 'avg_order_value' | 'revenue_365d') => moneyText(sql.raw(`"customers"."${column}"`), minorDigits);
  const column = (name: string) => sql.raw(`"customers"."${name}"`);
  return sql<string>`json_build_object(
  'id', "customers"."id",
  'traits', "customers"."traits",
  'created_at', ${iso('created_at')},
  'metrics', case when "customers"."computed_at" is not null then json_build_object(
    'order_count', ${column('order_count')},
    'net_revenue', ${money('net_revenue')},
    'avg_order_value', ${money('avg_order_value')},
    'first_order_at', ${iso('first_order_at')},
    'last_order_at', ${iso('last_order_at')},
    'previous_order_at', ${iso('previous_order_at')},
    'orders_365d', ${column('orders_365d')},
    'revenue_365d', ${money('revenue_365d')},
    'recency_days', ${daysSince('last_order_at')},
    'tenure_days', coalesce(${daysSince('first_event_at')}, 0),
    'first_event_at', ${iso('first_event_at')},
    'cadence_days', ${column('cadence_days')},
    'distinct_categories', ${column('distinct_categories')},
    'top_categories', coalesce(${column('top_categories')}, '[]'),
    'discount_order_share', ${column('discount_order_share')},
    'price_sensitivity', ${column('price_sensitivity')},
    'preferred_channel', ${column('preferred_channel')},
    'region', ${column('region')},
    'interactions_90d', ${column('interactions_90d')},
    'complaints_90d', ${column('complaints_90d')},
    'last_interaction_at', ${iso('last_interaction_at')},
    'satisfaction_avg', ${column('satisfaction_avg')}) end,
  'scores', case when "customers"."r_score" is not null and "customers"."f_score" is not null
      and "customers"."m_score" is not null and "customers"."value_score" is not null
    then json_build_object('r_score', "customers"."r_score", 'f_score', "customers"."f_score",
      'm_score', "customers"."m_score", 'value_score', "customers"."value_score") end,
  'rfm_segment', "customers"."rfm_segment",
  'abc_class', "customers"."abc_class",
  'tier', "customers"."tier",
  'lifecycle_stage', "customers"."lifecycle_stage",
  'at_risk', json_build_object('flagged', "customers"."at_risk", 'since', ${iso('at_risk_since')}, 'reasons', coalesce("customers"."at_risk_reasons", '[]')),
  'predictions', case when "customers"."p_alive" is not null or "customers"."expected_orders_90d" is not null or "customers"."clv_12m" is not null
    then json_build_object('p_alive', "customers"."p_alive", 'expected_orders_90d', "customers"."expected_orders_90d",
      'clv_12m', ${moneyText(sql`"customers"."clv_12m"`, minorDigits)}) end,
  'segments', coalesce((select json_agg(m.segment_key order by m.segment_key collate "C") from segment_members m
    where m.customer_id = "customers"."id"), '[]'),
  'merged_ids', coalesce((select json_agg(a.merged_id order by a.merged_id collate "C") from customer_aliases a
    where a.survivor_id = "customers"."id"), '[]'),
  'playbook', ${JSON.stringify(playbooks)}::jsonb -> "customers"."tier",
  'next_review_at', ${iso('next_review_at')},
  'computed_at', ${iso('computed_at')},
  'sequence', "customers"."sequence")::text`;
}

export async function findCustomer(db: DbOrTx, id: string, now: Date, minorDigits: number, playbooks: Playbooks = {}): Promise<CustomerView | undefined> {
  const [row] = await db.select({ json: customerJson(playbooks, now, minorDigits) }).from(customers).where(eq(customers.id, id)).limit(1);
  return row && (JSON.parse(row.json) as CustomerView);
}

/**
 * Erases a customer (right to erasure, README "Scores, tiers and lifecycle"): its row, every stored
 * event, its history, its segment membership and every webhook message about it not yet delivered
 * (purgeUndeliveredMessages), in one transaction; false when there is no such customer. Every
 * identity merged into it goes too (eraseMergedIdentities), under the identity lock, so no merge
 * moves a profile into it meanwhile. Messages already delivered are not recalled. An event for the
 * id, or for an id merged into it, that arrives later starts a new customer.
 */
export async function eraseCustomer(db: DbOrTx, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lockIdentities(tx, 'exclusive');
    const [row] = await tx.select({ id: customers.id }).from(customers).where(eq(customers.id, id)).for('update');
    if (!row) return false;
    await tx.delete(events).where(eq(events.customerId, id));
    await tx.delete(customerHistory).where(eq(customerHistory.customerId, id));
    await tx.delete(segmentMembers).where(eq(segmentMembers.customerId, id));
    for (const merged of await eraseMergedIdentities(tx, id)) await purgeUndeliveredMessages(tx, merged);
    await purgeUndeliveredMessages(tx, id);
    await tx.delete(customers).where(eq(customers.id, id));
    return true;
  });
}

/** The earliest review that is due (next_review_at at or before `now`), or null: the sweep's lag. */
export async function oldestDueReview(db: DbOrTx, now: Date): Promise<Date | null> {
  const [row] = await db.select({ at: min(customers.nextReviewAt) }).from(customers).where(lte(customers.nextReviewAt, now));
  return row?.at ?? null;
}
