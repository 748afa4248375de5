import { createHash } from 'node:crypto';
import { asc, count, eq, gt, sql } from 'drizzle-orm';
import type { IngestEvent } from '../domain/events/events.types.ts';
import type { DbFailure, DbOrTx } from './db.ts';
import { deadLetters } from './schema.ts';

export type DeadLetterRow = typeof deadLetters.$inferSelect;

/** A parked event: what was queued (with its receipt time) and why Postgres refused it. */
export interface DeadLetter {
  id: string;
  event: IngestEvent;
  error: { code: string; message: string };
  first_failed_at: string;
  last_failed_at: string;
  failures: number;
}

// A Postgres message may quote the value it refused; text columns cannot hold NUL or a lone
// surrogate, so those are written as escapes.
const storableMessage = (message: string) =>
  message
    .replace(/\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .slice(0, 2000);

/**
 * Parks an event Postgres refused. The same event parked again (its job retried, a replay that
 * failed) stays one row: the reason and time are updated and the failures counted.
 */
export async function parkDeadLetter(db: DbOrTx, event: IngestEvent, failure: DbFailure, at: Date): Promise<void> {
  // JSON text escapes NUL and unpaired surrogates, so any event the queue held fits a text column.
  const payload = JSON.stringify(event);
  const errorCode = failure.code ?? 'unknown';
  const errorMessage = storableMessage(failure.message);
  await db
    .insert(deadLetters)
    .values({
      payloadHash: createHash('sha256').update(payload).digest('hex'),
      payload,
      errorCode,
      errorMessage,
      firstFailedAt: at,
      lastFailedAt: at,
    })
    .onConflictDoUpdate({
      target: deadLetters.payloadHash,
      set: { errorCode, errorMessage, lastFailedAt: at, failures: sql`${deadLetters.failures} + 1` },
    });
}

function present(row: DeadLetterRow): DeadLetter {
  return {
    id: String(row.id),
    event: JSON.parse(row.payload) as IngestEvent,
    error: { code: row.errorCode, message: row.errorMessage },
    first_failed_at: row.firstFailedAt.toISOString(),
    last_failed_at: row.lastFailedAt.toISOString(),
    failures: row.failures,
  };
}

/** Oldest first, `limit` after the row `after` (an id); ids are bigserial, so the order is parking order. */
export async function listDeadLetters(db: DbOrTx, after: number | undefined, limit: number): Promise<DeadLetter[]> {
  const rows = await db
    .select()
    .from(deadLetters)
    .where(after === undefined ? undefined : gt(deadLetters.id, after))
    .orderBy(asc(deadLetters.id))
    .limit(limit);
  return rows.map(present);
}

export async function findDeadLetter(db: DbOrTx, id: number, options: { lock?: boolean } = {}): Promise<DeadLetter | undefined> {
  const query = db.select().from(deadLetters).where(eq(deadLetters.id, id));
  const [row] = await (options.lock ? query.for('update') : query);
  return row ? present(row) : undefined;
}

export async function deleteDeadLetter(db: DbOrTx, id: number): Promise<void> {
  await db.delete(deadLetters).where(eq(deadLetters.id, id));
}

export async function countDeadLetters(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: count() }).from(deadLetters);
  return row?.n ?? 0;
}
