import { sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';

/** The planner's estimate of the customers table's rows (pg_class.reltuples; -1 before the first analyze). */
export async function customerRowEstimate(db: DbOrTx): Promise<number> {
  const result = await db.execute<{ n: number }>(sql`select greatest(reltuples, 0)::float8 as n from pg_class where oid = 'customers'::regclass`);
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * VACUUM (ANALYZE) of the per-customer tables after a pass that rewrote many of their rows
 * (README, Operations): marks the old row versions' space free for the next pass's updates, and
 * gives the planner the new distribution of tiers, stages and segments. VACUUM cannot run in a
 * transaction, so this takes the pool, never a transaction.
 */
export async function vacuumCustomerTables(db: DbOrTx): Promise<void> {
  await db.execute(sql`vacuum (analyze) customers, segment_members`);
}
