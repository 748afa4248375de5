import { and, asc, eq, gt, inArray, isNotNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { StoredCustomer } from '../domain/customer/customer-state.batch.ts';
import { STATE_COLUMNS, type CustomerStateRow } from '../domain/customer/customer-state.row.ts';
import type { PackedDigest } from '../domain/facts/digest.ts';
import type { Rule } from '../domain/rules/rules.ts';
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

/** The customers of `within` with ids in (after, last]: one keyset batch of a pass. */
export const idRange = (within: CustomerScope, after: string, last: string): CustomerScope =>
  scope(and(gt(customers.id, after), lte(customers.id, last), within)!);

export async function countCustomers(db: DbOrTx, within: CustomerScope): Promise<number> {
  return (await db.execute<{ n: number }>(sql`select count(*)::int as n from ${customers} where ${within}`)).rows[0]!.n;
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

/** Locks the customers' rows in id order, so recomputes of one customer never interleave and batches never deadlock. */
export async function lockCustomers(tx: DbOrTx, ids: readonly string[]): Promise<void> {
  await tx.select({ id: customers.id }).from(customers).where(inArray(customers.id, [...ids])).orderBy(customers.id).for('update');
}

/**
 * The columns a recompute reads back: what the previous state, the unchanged-state check and
 * segment rules need, and the digest. Not `metrics` (the largest column, rebuilt from the digest
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
  atRiskReasons: customers.atRiskReasons,
  nextReviewAt: customers.nextReviewAt,
  rScore: customers.rScore,
  fScore: customers.fScore,
  mScore: customers.mScore,
  valueScore: customers.valueScore,
  rfmSegment: customers.rfmSegment,
  abcClass: customers.abcClass,
};

export type StoredCustomerWithDigest = StoredCustomer & { digest: PackedDigest | null; eventCount: number };

/** Customers with what a recompute reads of them: the stored state and digest, how many events are stored, and their saved segments. */
export async function readStoredCustomers(db: DbOrTx, within: CustomerScope | readonly string[]): Promise<StoredCustomerWithDigest[]> {
  const where = Array.isArray(within) ? inArray(customers.id, [...within]) : (within as CustomerScope);
  return db
    .select({
      ...storedColumns,
      // Spelled out: drizzle renders a column of the outer table unqualified, which here would be events.id.
      eventCount: sql<number>`(select count(*)::int from events e where e.customer_id = customers.id)`,
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
