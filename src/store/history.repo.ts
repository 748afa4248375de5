import { and, desc, eq, lt, or } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { customerHistory } from './schema.ts';

export type HistoryRow = typeof customerHistory.$inferSelect;
export type NewHistoryRow = typeof customerHistory.$inferInsert;

export async function insertHistory(db: DbOrTx, rows: NewHistoryRow[]): Promise<void> {
  if (rows.length > 0) await db.insert(customerHistory).values(rows);
}

/** Newest first; `before` is the id of the last row of the previous page. */
export async function listHistory(db: DbOrTx, customerId: string, limit: number, before?: { changedAt: Date; id: number }) {
  const page = before
    ? or(lt(customerHistory.changedAt, before.changedAt), and(eq(customerHistory.changedAt, before.changedAt), lt(customerHistory.id, before.id)))
    : undefined;
  return db
    .select()
    .from(customerHistory)
    .where(and(eq(customerHistory.customerId, customerId), page))
    .orderBy(desc(customerHistory.changedAt), desc(customerHistory.id))
    .limit(limit);
}
