import { and, desc, eq, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { customerHistory } from './schema.ts';

export type HistoryRow = typeof customerHistory.$inferSelect;
export type NewHistoryRow = typeof customerHistory.$inferInsert;

/** One statement, the rows as one JSON parameter (a rescore writes thousands per batch). */
export async function insertHistory(db: DbOrTx, rows: NewHistoryRow[]): Promise<void> {
  if (rows.length === 0) return;
  const json = rows.map((r) => ({
    customer_id: r.customerId,
    kind: r.kind,
    before: r.before ?? null,
    after: r.after ?? null,
    reasons: r.reasons ?? [],
    changed_at: r.changedAt,
    sequence: r.sequence,
  }));
  // A null `before`/`after` is stored as SQL NULL, as a parameterised insert stores it.
  await db.execute(sql`
    insert into customer_history (customer_id, kind, before, after, reasons, changed_at, sequence)
    select x.customer_id, x.kind, nullif(e.row -> 'before', 'null'::jsonb), nullif(e.row -> 'after', 'null'::jsonb),
      x.reasons, x.changed_at, x.sequence
    from jsonb_array_elements(${JSON.stringify(json)}::jsonb) as e(row),
      jsonb_to_record(e.row) as x(customer_id text, kind text, reasons jsonb, changed_at timestamptz, sequence bigint)`);
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
