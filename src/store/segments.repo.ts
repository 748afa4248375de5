import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Rule } from '../domain/rules/rules.ts';
import type { SegmentDefinition } from '../domain/rules/segments.ts';
import type { DbOrTx } from './db.ts';
import { segmentMembers, segments } from './schema.ts';

export type SegmentRow = typeof segments.$inferSelect;

export async function listSegments(db: DbOrTx): Promise<SegmentRow[]> {
  return db.select().from(segments).orderBy(segments.key);
}

export async function findSegment(db: DbOrTx, key: string): Promise<SegmentRow | undefined> {
  const [row] = await db.select().from(segments).where(eq(segments.key, key));
  return row;
}

export const toDefinition = (row: SegmentRow): SegmentDefinition => ({ key: row.key, rule: row.rule as unknown as Rule });

export async function upsertSegment(db: DbOrTx, row: { key: string; name: string; rule: Rule }, now: Date): Promise<SegmentRow> {
  const [saved] = await db
    .insert(segments)
    .values({ key: row.key, name: row.name, rule: row.rule as unknown as Record<string, unknown>, createdAt: now, updatedAt: now })
    .onConflictDoUpdate({ target: segments.key, set: { name: row.name, rule: row.rule as unknown as Record<string, unknown>, updatedAt: now } })
    .returning();
  return saved!;
}

export async function deleteSegment(db: DbOrTx, key: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.delete(segmentMembers).where(eq(segmentMembers.segmentKey, key));
    return (await tx.delete(segments).where(eq(segments.key, key)).returning()).length > 0;
  });
}

/** Current membership of a batch of customers: customer id → segment keys. */
export async function applyMembershipChanges(
  db: DbOrTx,
  entered: { segmentKey: string; customerId: string }[],
  exited: { segmentKey: string; customerId: string }[],
  now: Date,
): Promise<void> {
  if (entered.length > 0) {
    await db.insert(segmentMembers).values(entered.map((e) => ({ ...e, enteredAt: now }))).onConflictDoNothing();
  }
  if (exited.length > 0) {
    await db.execute(sql`
      delete from segment_members m using jsonb_to_recordset(${JSON.stringify(exited)}::jsonb) as x("segmentKey" text, "customerId" text)
      where m.segment_key = x."segmentKey" and m.customer_id = x."customerId"`);
  }
}

export async function pageMembers(db: DbOrTx, key: string, limit: number, after?: string) {
  return db
    .select({ customerId: segmentMembers.customerId, enteredAt: segmentMembers.enteredAt })
    .from(segmentMembers)
    .where(and(eq(segmentMembers.segmentKey, key), after ? gt(segmentMembers.customerId, after) : undefined))
    .orderBy(asc(segmentMembers.customerId))
    .limit(limit);
}
