import { sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';

// Identity merges (docs/architecture.md, "Identity"). A merge takes the identity lock exclusively;
// storing events takes it shared, so a batch of events is stored either wholly before a merge
// (and moved by it) or wholly after (and routed to the survivor): none is left under a merged id.
const IDENTITY_LOCK = sql.raw('7346152098421');

export async function lockIdentities(tx: DbOrTx, mode: 'shared' | 'exclusive'): Promise<void> {
  await tx.execute(mode === 'shared' ? sql`select pg_advisory_xact_lock_shared(${IDENTITY_LOCK})` : sql`select pg_advisory_xact_lock(${IDENTITY_LOCK})`);
}

/**
 * Locks, in id order, the customers rows of `ids` and of their survivors: every row a run of
 * merges among these ids deletes or updates (a survivor is always one of them). Taken once, before
 * any merge, so a run of merges and a recompute (which locks its rows in id order too) never
 * wait for each other in a cycle.
 */
export async function lockProfiles(tx: DbOrTx, ids: readonly string[]): Promise<void> {
  await tx.execute(sql`
    select id from customers where id in (
      select n.id from unnest(${sql.param([...ids])}::text[]) as n(id)
      union select a.survivor_id from customer_aliases a where a.merged_id = any(${sql.param([...ids])}::text[]))
    order by id for update`);
}

/** Each id's survivor, for the ids that were merged (aliases always name the final survivor). */
export async function survivorsOf(db: DbOrTx, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.execute<{ merged_id: string; survivor_id: string }>(sql`
    select merged_id, survivor_id from customer_aliases where merged_id = any(${sql.param([...ids])}::text[])`);
  return new Map(rows.rows.map((r) => [r.merged_id, r.survivor_id]));
}

export async function survivorOf(db: DbOrTx, id: string): Promise<string | undefined> {
  return (await survivorsOf(db, [id])).get(id);
}

/** The ids merged into `survivorId`, in code point order. */
export async function mergedIdsOf(db: DbOrTx, survivorId: string): Promise<string[]> {
  const rows = await db.execute<{ merged_id: string }>(sql`
    select merged_id from customer_aliases where survivor_id = ${survivorId} order by merged_id collate "C"`);
  return rows.rows.map((r) => r.merged_id);
}

/** Which of these merge event ids are recorded already (read without the identity lock). */
export async function recordedMerges(db: DbOrTx, eventIds: readonly string[]): Promise<Set<string>> {
  if (eventIds.length === 0) return new Set();
  const rows = await db.execute<{ event_id: string }>(sql`select event_id from customer_merges where event_id = any(${sql.param([...eventIds])}::text[])`);
  return new Set(rows.rows.map((r) => r.event_id));
}

/**
 * Whether the merge `eventId` is recorded, where each of `ids` resolves now (the id itself unless
 * merged), and the first id's sequence (0 without a row): one read.
 */
export async function mergeContext(tx: DbOrTx, eventId: string, ids: readonly string[]): Promise<{ recorded: boolean; survivors: Map<string, string>; sequence: number }> {
  const rows = await tx.execute<{ recorded: boolean; id: string; survivor: string; sequence: string | null }>(sql`
    select exists (select 1 from customer_merges where event_id = ${eventId}) as recorded, n.id,
      coalesce((select a.survivor_id from customer_aliases a where a.merged_id = n.id), n.id) as survivor,
      (select c.sequence from customers c where c.id = n.id) as sequence
    from unnest(${sql.param([...ids])}::text[]) with ordinality as n(id, i) order by n.i`);
  return {
    recorded: rows.rows[0]?.recorded ?? false,
    survivors: new Map(rows.rows.map((r) => [r.id, r.survivor])),
    sequence: Number(rows.rows[0]?.sequence ?? 0),
  };
}

export interface MergeRecord {
  eventId: string;
  customerId: string;
  previousId: string;
  outcome: 'merged' | 'already_merged' | 'refused';
  reason: string | null;
  survivorId: string | null;
  mergedIds: string[];
  occurredAt: Date;
}

/** One statement, the records as one JSON parameter. */
export async function recordMerges(tx: DbOrTx, records: MergeRecord[]): Promise<void> {
  if (records.length === 0) return;
  const json = records.map((r) => ({
    event_id: r.eventId, customer_id: r.customerId, previous_id: r.previousId, outcome: r.outcome, reason: r.reason,
    survivor_id: r.survivorId, merged_ids: r.mergedIds, occurred_at: r.occurredAt.toISOString(),
  }));
  await tx.execute(sql`
    insert into customer_merges (event_id, customer_id, previous_id, outcome, reason, survivor_id, merged_ids, occurred_at)
    select x.event_id, x.customer_id, x.previous_id, x.outcome, x.reason, x.survivor_id,
      array(select jsonb_array_elements_text(x.merged_ids)), x.occurred_at
    from jsonb_to_recordset(${JSON.stringify(json)}::jsonb) as x(
      event_id text, customer_id text, previous_id text, outcome text, reason text, survivor_id text, merged_ids jsonb, occurred_at timestamptz)
    on conflict do nothing`);
}

/**
 * Moves the profile `mergedId` into `survivorId`, in one statement: its events (an order whose
 * order id the survivor already has is dropped: an order under both ids counts once), the ids
 * merged into it before, its emails; its customers row and segment membership go. Its history
 * stays under its own id. The caller rebuilds the survivor's traits (mergeTraits) once the moved
 * events are visible, in a later statement. Returns the ids now merged into the survivor by this
 * merge (`mergedId` and those merged into it before) and the survivor's sequence.
 */
export async function moveProfile(tx: DbOrTx, mergedId: string, survivorId: string, at: Date, eventId: string): Promise<{ mergedIds: string[]; sequence: number }> {
  // The CTEs see one snapshot and touch disjoint rows: the duplicate orders deleted are exactly
  // the order rows the move leaves out, so the unique order index never meets two copies.
  const moved = await tx.execute<{ repointed: string[]; sequence: string | null }>(sql`
    with survivor as (
      insert into customers (id) values (${survivorId}) on conflict do nothing
    ), duplicates as (
      delete from events e where e.customer_id = ${mergedId} and e.type = 'order'
        and exists (select 1 from events s where s.customer_id = ${survivorId} and s.type = 'order' and s.order_id = e.order_id)
      returning e.id
    ), moved as (
      update events set customer_id = ${survivorId}
      where customer_id = ${mergedId} and id not in (select id from duplicates)
    ), repointed as (
      update customer_aliases set survivor_id = ${survivorId} where survivor_id = ${mergedId} returning merged_id
    ), alias as (
      insert into customer_aliases (merged_id, survivor_id, merged_at, event_id) values (${mergedId}, ${survivorId}, ${at.toISOString()}, ${eventId})
    ), emails as (
      insert into customer_emails (email, customer_id)
      select email, ${survivorId} from customer_emails where customer_id = ${mergedId}
      on conflict do nothing
    ), old_emails as (
      delete from customer_emails where customer_id = ${mergedId}
    ), membership as (
      delete from segment_members where customer_id = ${mergedId}
    ), gone as (
      delete from customers where id = ${mergedId}
    )
    select coalesce((select array_agg(merged_id) from repointed), '{}') as repointed,
      (select sequence from customers where id = ${survivorId}) as sequence`);
  const row = moved.rows[0]!;
  return { mergedIds: [mergedId, ...row.repointed].sort(), sequence: Number(row.sequence ?? 0) };
}

/** Each customer's `email` trait as stored (the store does not judge it; the domain normalises it). */
export async function emailTraits(db: DbOrTx, ids: readonly string[]): Promise<{ id: string; email: unknown }[]> {
  if (ids.length === 0) return [];
  const rows = await db.execute<{ id: string; email: unknown }>(sql`
    select id, traits -> 'email' as email from customers where id = any(${sql.param([...ids])}::text[])`);
  return rows.rows;
}

/** Replaces the customers' normalised emails (one each at most) and returns, per email, every customer holding it. */
export async function replaceEmails(tx: DbOrTx, ids: readonly string[], emails: { id: string; email: string }[]): Promise<Map<string, string[]>> {
  await tx.execute(sql`delete from customer_emails where customer_id = any(${sql.param([...ids])}::text[])`);
  if (emails.length === 0) return new Map();
  await tx.execute(sql`
    insert into customer_emails (email, customer_id)
    select x.email, x.id from jsonb_to_recordset(${JSON.stringify(emails)}::jsonb) as x(id text, email text)
    on conflict do nothing`);
  const rows = await tx.execute<{ email: string; ids: string[] }>(sql`
    select email, array_agg(customer_id order by customer_id collate "C") as ids from customer_emails
    where email = any(${sql.param(emails.map((e) => e.email))}::text[]) group by email`);
  return new Map(rows.rows.map((r) => [r.email, r.ids]));
}

/** The earliest occurred_at of each customer's events (absent for a customer without any). */
export async function firstEventInstants(db: DbOrTx, ids: readonly string[]): Promise<Map<string, Date>> {
  if (ids.length === 0) return new Map();
  const rows = await db.execute<{ id: string; at: string }>(sql`
    select n.id, (select min(e.occurred_at) from events e where e.customer_id = n.id) as at
    from unnest(${sql.param([...ids])}::text[]) as n(id)`);
  return new Map(rows.rows.filter((r) => r.at !== null).map((r) => [r.id, new Date(r.at)]));
}

/**
 * Right to erasure for everything a merge left of the profiles merged into `survivorId`, in the
 * erasing transaction: their aliases, merge records, emails and history. Returns the merged ids.
 */
export async function eraseMergedIdentities(tx: DbOrTx, survivorId: string): Promise<string[]> {
  const gone = await tx.execute<{ merged_id: string }>(sql`delete from customer_aliases where survivor_id = ${survivorId} returning merged_id`);
  const ids = [survivorId, ...gone.rows.map((r) => r.merged_id)];
  const all = sql`${sql.param(ids)}::text[]`;
  await tx.execute(sql`delete from customer_merges where customer_id = any(${all}) or previous_id = any(${all}) or survivor_id = any(${all})`);
  await tx.execute(sql`delete from customer_emails where customer_id = any(${all})`);
  await tx.execute(sql`delete from customer_history where customer_id = any(${all})`);
  return gone.rows.map((r) => r.merged_id);
}
