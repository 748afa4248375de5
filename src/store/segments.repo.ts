import type { Readable } from 'node:stream';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type pg from 'pg';
import QueryStream from 'pg-query-stream';
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

/** One row of a segment export, as Postgres gives it (money as text, instants as Date). */
export interface SegmentExportRow {
  customer_id: string;
  email: string | null;
  tier: string | null;
  lifecycle_stage: string | null;
  rfm_segment: string | null;
  abc_class: string | null;
  value_score: number | null;
  net_revenue: string;
  order_count: number;
  last_order_at: Date | null;
  at_risk: boolean;
  region: string | null;
}

export interface SegmentExportCursor {
  /** Rows in customer id order, read through a server-side cursor as the consumer drains them. */
  rows: Readable;
  /** Gives the connection back; with an error it is closed instead of reused (a cursor may be open). */
  release(err?: Error): void;
}

/**
 * Every member of a segment with its tier and scores, streamed from one connection of `pool`
 * (the export pool: a download holds its connection until it is read to the end or dropped).
 */
export async function openSegmentExport(pool: pg.Pool, key: string): Promise<SegmentExportCursor> {
  const client = await pool.connect();
  const rows = client.query(
    new QueryStream(
      `select c.id as customer_id, c.traits ->> 'email' as email, c.tier, c.lifecycle_stage, c.rfm_segment, c.abc_class,
              c.value_score, c.net_revenue::text as net_revenue, c.order_count, c.last_order_at, c.at_risk, c.region
       from segment_members m join customers c on c.id = m.customer_id
       where m.segment_key = $1 order by m.customer_id`,
      [key],
      { batchSize: 1000 },
    ),
  );
  let released = false;
  return {
    rows,
    release(err) {
      if (released) return;
      released = true;
      client.release(err ?? false);
    },
  };
}
