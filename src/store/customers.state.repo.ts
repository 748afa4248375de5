import { and, asc, eq, gt, isNotNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { StoredCustomer } from '../domain/customer/customer-state.batch.ts';
import { STATE_COLUMNS, type CustomerStateRow } from '../domain/customer/customer-state.row.ts';
import type { Rule } from '../domain/rules/rules.ts';
import type { AbcCutoffs, Breakpoints, ValueWeights } from '../domain/scoring/scores.ts';
import type { DbOrTx } from './db.ts';
import { compileRule } from './rules.sql.ts';
import { customers } from './schema.ts';

/** Which customers a pass covers: made here, passed through use cases as an opaque value. */
export type CustomerScope = SQL & { readonly __customerScope: true };
const scope = (where: SQL) => where as CustomerScope;

export const everyCustomer = (): CustomerScope => scope(sql`true`);
export const customerWithId = (id: string): CustomerScope => scope(sql`${customers.id} = ${id}`);

/** Customers whose membership of `segmentKey` disagrees with its rule (compiled to SQL) as of `now`. */
export function segmentMismatch(segmentKey: string, rule: Rule, now: Date): CustomerScope {
  const member = compileRule(rule, {
    now,
    segmentsSql: sql`array(select m.segment_key from segment_members m where m.customer_id = ${customers.id})`,
  });
  const isMember = sql`exists (select 1 from segment_members m where m.segment_key = ${segmentKey} and m.customer_id = ${customers.id})`;
  return scope(sql`(${member}) <> ${isMember}`);
}

/**
 * Customers a statistics refresh must derive again: those whose judgments under the new statistics
 * as of `now` (R/F/M scores, value score, RFM segment, ABC class, computed here in SQL exactly as
 * domain/scoring/scores.ts computes them) differ from the stored ones, those whose review is due,
 * and those never derived. Everything else a derivation stores depends on the customer's own
 * events and instants (next_review_at), so for every other customer a derivation would store what
 * is stored. Reads only the customers table, no events.
 */
export function judgmentsChanged(input: { now: Date; breakpoints: Breakpoints | null; abc: AbcCutoffs | null; weights: ValueWeights }): CustomerScope {
  const { now, breakpoints: bp, abc, weights } = input;
  const due = sql`${customers.nextReviewAt} <= ${now}`;
  if (!bp) {
    return scope(sql`(${customers.computedAt} is null or ${due} or ${customers.rScore} is not null or ${abcDiffers(abc)})`);
  }
  const above = (value: SQL, points: readonly number[], cast: 'float8' | 'numeric') =>
    sql.join(points.map((p) => sql`(${value} > ${String(p)}::${sql.raw(cast)})::int`), sql` + `);
  // recency_days > p as an instant comparison (no interval arithmetic per customer and breakpoint):
  // the last order is at or before the instant `now` minus the least whole ms above p days.
  const olderThan = sql.join(
    bp.recency_days.map((p) => sql`(${customers.lastOrderAt} <= ${new Date(now.getTime() - leastMsAbove(p)).toISOString()}::timestamptz)::int`),
    sql` + `,
  );
  const r = sql`(5 - (${olderThan}))`;
  const f = sql`(1 + (${above(sql`${customers.orderCount}`, bp.order_count, 'float8')}))`;
  const m = sql`(1 + (${above(sql`${customers.netRevenue}`, bp.net_revenue, 'numeric')}))`;
  const [wr, wf, wm] = [weights.r, weights.f, weights.m].map((w) => sql`${String(w)}::numeric`);
  const total = sql`(${wr} + ${wf} + ${wm})`;
  const value = sql`case when ${total} <= 0 then 0 else round(100 * (${wr} * (${r} - 1) + ${wf} * (${f} - 1) + ${wm} * (${m} - 1)) / (4 * ${total}), 0)::int end`;
  const buyer = sql`(${customers.orderCount} > 0 and ${customers.lastOrderAt} is not null)`;
  const scoresDiffer = sql`(case when ${buyer} then row(${r}, ${f}, ${m}, ${value}, ${rfmSegmentSql(r, f)}) end)
    is distinct from (case when ${customers.rScore} is not null then row(${customers.rScore}::int, ${customers.fScore}::int, ${customers.mScore}::int, ${customers.valueScore}::int, ${customers.rfmSegment}) end)`;
  return scope(sql`(${customers.computedAt} is null or ${due} or ${scoresDiffer} or ${abcDiffers(abc)})`);
}

const DAY_MS = 86_400_000;

/**
 * The least whole number of ms whose age in days, as ageDays (domain/time.ts) computes it in
 * float8 (ms / DAY_MS), is above `days`: recency_days > days exactly when the last order is at
 * least that many ms before now (instants are whole ms).
 */
export function leastMsAbove(days: number): number {
  let ms = Math.floor(days * DAY_MS);
  while (ms / DAY_MS > days) ms--;
  while (!(ms / DAY_MS > days)) ms++;
  return ms;
}

/** The RFM grid of domain/scoring/scores.ts (rows R 5..1, columns F 1..5) as a CASE. */
function rfmSegmentSql(r: SQL, f: SQL): SQL {
  return sql`(case
    when ${r} >= 5 then (array['new','potential_loyalists','potential_loyalists','champions','champions'])[${f}]
    when ${r} = 4 then (array['promising','potential_loyalists','potential_loyalists','loyal','loyal'])[${f}]
    when ${r} = 3 then (array['about_to_sleep','about_to_sleep','need_attention','loyal','loyal'])[${f}]
    else (array['hibernating','hibernating','at_risk','at_risk','cant_lose'])[${f}] end)`;
}

/** abcClass (domain/scoring/scores.ts) under the cut-offs differs from the stored class; prospects have none. */
function abcDiffers(abc: AbcCutoffs | null): SQL {
  const klass = abc
    ? sql`case when ${customers.orderCount} = 0 then null
        when ${abc.a_min}::numeric is null or ${customers.netRevenue} >= ${abc.a_min}::numeric then 'A'
        when ${abc.b_min}::numeric is not null and ${customers.netRevenue} >= ${abc.b_min}::numeric then 'B' else 'C' end`
    : sql`null`;
  return sql`(${klass}) is distinct from ${customers.abcClass}`;
}

/** The customers of `within` with ids in (after, last]: one keyset batch of a pass. */
export const idRange = (within: CustomerScope, after: string, last: string): CustomerScope =>
  scope(and(gt(customers.id, after), lte(customers.id, last), within)!);

export async function countCustomers(db: DbOrTx, within: CustomerScope): Promise<number> {
  return (await db.execute<{ n: number }>(sql`select count(*)::int as n from ${customers} where ${within}`)).rows[0]!.n;
}

/**
 * Every customer id of `within`, in id order, in one statement: the condition is evaluated once per
 * customer. For scopes that select few customers (the daily refresh), whose ids fit in memory.
 */
export async function selectedCustomerIds(db: DbOrTx, within: CustomerScope): Promise<string[]> {
  const rows = await db.execute<{ id: string }>(sql`select ${customers.id} as id from ${customers} where ${within} order by ${customers.id}`);
  return rows.rows.map((r) => r.id);
}

/** The next `limit` customer ids of `within` after `after`, in id order. */
export async function nextCustomerIds(db: DbOrTx, within: CustomerScope, after: string, limit: number): Promise<string[]> {
  const rows = await db.select({ id: customers.id }).from(customers).where(and(gt(customers.id, after), within)).orderBy(asc(customers.id)).limit(limit);
  return rows.map((r) => r.id);
}

/** A page of customers whose review is due at `now`, in (next_review_at, id) order after `after`; walks the partial index. */
export async function dueForReview(db: DbOrTx, now: Date, after: { at: Date; id: string } | undefined, limit: number) {
  const rows = await db
    .select({ id: customers.id, at: customers.nextReviewAt })
    .from(customers)
    .where(
      and(
        isNotNull(customers.nextReviewAt),
        lte(customers.nextReviewAt, now),
        after ? or(gt(customers.nextReviewAt, after.at), and(eq(customers.nextReviewAt, after.at), gt(customers.id, after.id))) : undefined,
      ),
    )
    .orderBy(asc(customers.nextReviewAt), asc(customers.id))
    .limit(limit);
  return rows.map((r) => ({ id: r.id, at: r.at! }));
}

/**
 * `id = any(array)` with the ids as one array parameter: the same index scan as `id in (…)`, without
 * a placeholder per id for the query to be built with and the statement to be parsed with (a batch has hundreds).
 */
const idIn = (ids: readonly string[]): SQL => sql`${customers.id} = any(${sql.param([...ids])}::text[])`;

/** Locks the customers' rows in id order, so transactions that each lock several customers never wait for each other in a cycle. */
export async function lockCustomers(tx: DbOrTx, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.select({ id: customers.id }).from(customers).where(idIn(ids)).orderBy(customers.id).for('update');
}

/**
 * The columns a recompute reads back: what the previous state, the unchanged-state check and
 * segment rules need, and the digest. Not the metrics (rebuilt from the digest
 * anyway) nor the listing copies.
 */
const storedColumns = {
  id: customers.id,
  digest: customers.digest,
  stateHash: customers.stateHash,
  traits: customers.traits,
  sequence: customers.sequence,
  computedAt: customers.computedAt,
  tier: customers.tier,
  pendingTier: customers.pendingTier,
  pendingSince: customers.pendingSince,
  lifecycleStage: customers.lifecycleStage,
  atRisk: customers.atRisk,
  // null for none
  atRiskReasons: sql<unknown[]>`coalesce(${customers.atRiskReasons}, '[]'::jsonb)`,
  nextReviewAt: customers.nextReviewAt,
  rScore: customers.rScore,
  fScore: customers.fScore,
  mScore: customers.mScore,
  valueScore: customers.valueScore,
  rfmSegment: customers.rfmSegment,
  abcClass: customers.abcClass,
};

export type StoredCustomerWithDigest = StoredCustomer & { digest: string | null; eventCount: number | null };

/**
 * Customers with what a recompute reads of them: the stored state and digest, how many events are
 * stored (only where there is a digest to check against them: a customer never derived, as every
 * customer after an import, is derived from the events anyway), and their saved segments.
 */
export async function readStoredCustomers(db: DbOrTx, within: CustomerScope | readonly string[]): Promise<StoredCustomerWithDigest[]> {
  const where = Array.isArray(within) ? idIn(within) : (within as CustomerScope);
  return db
    .select({
      ...storedColumns,
      // Spelled out: drizzle renders a column of the outer table unqualified, which here would be events.id.
      eventCount: sql<number | null>`case when customers.digest is not null then (select count(*)::int from events e where e.customer_id = customers.id) end`,
      segments: sql<string[]>`array(select m.segment_key from segment_members m where m.customer_id = customers.id)`,
    })
    .from(customers)
    .where(where)
    .orderBy(customers.id);
}

const STATE_ENTRIES = Object.entries(STATE_COLUMNS);
const SET_LIST = sql.raw(STATE_ENTRIES.map(([name]) => `${name} = x.${name}`).join(', '));
const RECORD_TYPE = sql.raw(['id text', ...STATE_ENTRIES.map(([name, type]) => `${name} ${type}`), 'previous_hash text'].join(', '));

/**
 * Writes derived states in one statement. Each row is written only if its stored fingerprint is
 * still `previous_hash`, the one the row was derived from (a rescore reads without row locks); the
 * ids written come back. The columns are STATE_COLUMNS (domain/customer/customer-state.row.ts).
 */
export async function writeStateRows(tx: DbOrTx, rows: (CustomerStateRow & { previous_hash: string | null })[]): Promise<Set<string>> {
  if (rows.length === 0) return new Set();
  const written = await tx.execute<{ id: string }>(sql`
    update customers c set ${SET_LIST}
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(${RECORD_TYPE})
    where c.id = x.id and c.state_hash is not distinct from x.previous_hash
    returning c.id`);
  return new Set(written.rows.map((r) => r.id));
}
