import { and, desc, eq, gte, inArray, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from './db.ts';
import { webhookAttempts, webhookDeliveries, webhookEndpoints, webhookMessages } from './schema.ts';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export async function insertEndpoint(db: DbOrTx, row: typeof webhookEndpoints.$inferInsert): Promise<EndpointRow> {
  return withSubscriptionsLocked(db, async (tx) => {
    const [created] = await tx.insert(webhookEndpoints).values(row).returning();
    return created!;
  });
}

export async function findEndpoint(db: DbOrTx, id: string): Promise<EndpointRow | undefined> {
  const [row] = await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, id));
  return row;
}

export async function listEndpoints(db: DbOrTx): Promise<EndpointRow[]> {
  return db.select().from(webhookEndpoints).orderBy(webhookEndpoints.createdAt, webhookEndpoints.id);
}

/** Under the subscriptions lock: a change of `events` or `enabled` may subscribe the endpoint to more types. */
export async function updateEndpoint(db: DbOrTx, id: string, set: Partial<typeof webhookEndpoints.$inferInsert>) {
  return withSubscriptionsLocked(db, async (tx) => (await tx.update(webhookEndpoints).set(set).where(eq(webhookEndpoints.id, id)).returning())[0]);
}

export async function deleteEndpoint(db: DbOrTx, id: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const deliveries = tx.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id));
    await tx.delete(webhookAttempts).where(inArray(webhookAttempts.deliveryId, deliveries));
    await tx.delete(webhookDeliveries).where(eq(webhookDeliveries.endpointId, id));
    const deleted = await tx.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id)).returning({ id: webhookEndpoints.id });
    return deleted.length > 0;
  });
}

/** A message addressed to one endpoint only (the test ping): stored already fanned out, with its delivery. */
export async function insertDirectMessage(
  db: DbOrTx,
  endpointId: string,
  message: { id: string; type: string; body: string; createdAt: Date },
): Promise<string> {
  const deliveryId = `dlv_${message.id.slice(4)}`;
  await db.transaction(async (tx) => {
    await tx.insert(webhookMessages).values({ ...message, fannedOutAt: message.createdAt });
    await tx.insert(webhookDeliveries).values({ id: deliveryId, endpointId, messageId: message.id, nextAttemptAt: message.createdAt });
  });
  return deliveryId;
}

export async function listDeliveries(
  db: DbOrTx,
  endpointId: string,
  options: { status?: DeliveryStatus | undefined; limit: number; before?: { createdAt: Date; id: string } | undefined },
) {
  const { before } = options;
  const rows = await db
    .select({ delivery: webhookDeliveries, type: webhookMessages.type })
    .from(webhookDeliveries)
    .innerJoin(webhookMessages, eq(webhookMessages.id, webhookDeliveries.messageId))
    .where(
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        options.status ? eq(webhookDeliveries.status, options.status) : undefined,
        before
          ? or(lt(webhookDeliveries.createdAt, before.createdAt), and(eq(webhookDeliveries.createdAt, before.createdAt), lt(webhookDeliveries.id, before.id)))
          : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(options.limit);
  const attempts = rows.length
    ? await db
        .select()
        .from(webhookAttempts)
        .where(inArray(webhookAttempts.deliveryId, rows.map((r) => r.delivery.id)))
        .orderBy(webhookAttempts.deliveryId, webhookAttempts.attempt, webhookAttempts.id)
    : [];
  return rows.map((r) => ({ ...r, attempts: attempts.filter((a) => a.deliveryId === r.delivery.id) }));
}

/** Puts a delivery (any status) back in line for an immediate attempt. */
export async function retryDelivery(db: DbOrTx, endpointId: string, deliveryId: string, now: Date): Promise<boolean> {
  const rows = await db
    .update(webhookDeliveries)
    .set({ status: 'pending', nextAttemptAt: now, claimedUntil: null })
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpointId)))
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

/** Resends every failed delivery of an endpoint created since `since`. */
export async function recoverFailed(db: DbOrTx, endpointId: string, since: Date, now: Date): Promise<number> {
  const rows = await db
    .update(webhookDeliveries)
    .set({ status: 'pending', nextAttemptAt: now, claimedUntil: null })
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, 'failed'), gte(webhookDeliveries.createdAt, since)))
    .returning({ id: webhookDeliveries.id });
  return rows.length;
}

/**
 * Orders outbox writes against new subscriptions (README, Webhooks): a transaction writing messages
 * holds it shared from before it reads which types are subscribed until it commits; creating an
 * endpoint or changing what it receives holds it exclusively, so it waits for the writes in flight
 * and every later write sees it.
 */
const SUBSCRIPTIONS_LOCK = sql.raw('7346152098422');

/** Runs `change` to the endpoints under the subscriptions lock held exclusively. */
function withSubscriptionsLocked<T>(db: DbOrTx, change: (tx: DbOrTx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SUBSCRIPTIONS_LOCK})`);
    return change(tx);
  });
}

/**
 * Outbox rows for the messages whose type some enabled endpoint subscribes to (README, Webhooks),
 * in one statement, the messages as one JSON parameter; the others are not written, as the relay
 * would fan them out to no one. Call it inside the transaction of the change the messages announce:
 * the subscriptions lock is held until that commits.
 */
export async function insertMessages(tx: DbOrTx, messages: { id: string; type: string; body: string; createdAt: Date }[]): Promise<void> {
  if (messages.length === 0) return;
  await tx.execute(sql`select pg_advisory_xact_lock_shared(${SUBSCRIPTIONS_LOCK})`);
  const subscribed = await subscribedTypes(tx);
  const json = messages
    .filter((m) => subscribed.has('*') || subscribed.has(m.type))
    .map((m) => ({ id: m.id, type: m.type, body: m.body, created_at: m.createdAt }));
  if (json.length === 0) return;
  await tx.execute(sql`
    insert into webhook_messages (id, type, body, created_at)
    select x.id, x.type, x.body, x.created_at
    from jsonb_to_recordset(${JSON.stringify(json)}::jsonb) as x(id text, type text, body text, created_at timestamptz)`);
}

/** The event types the enabled endpoints subscribe to, `*` among them if one takes every type. */
async function subscribedTypes(db: DbOrTx): Promise<Set<string>> {
  const rows = await db.execute<{ type: string }>(sql`select distinct unnest(events) as type from webhook_endpoints where enabled`);
  return new Set(rows.rows.map((r) => r.type));
}

/**
 * Retention of the outbox: messages fanned out before `before` whose deliveries are all finished
 * (succeeded or failed, or none), at most `limit` of them, deleted with those deliveries and their
 * attempts in one statement; returns how many messages.
 */
export async function purgeFannedOutMessages(db: DbOrTx, before: Date, limit: number): Promise<number> {
  const result = await db.execute<{ n: number }>(sql`
    with old as (
      select m.id from webhook_messages m
      where m.fanned_out_at < ${before}
        and not exists (select 1 from webhook_deliveries d where d.message_id = m.id and d.status = 'pending')
      limit ${limit}
      for update skip locked
    ), deliveries as (
      delete from webhook_deliveries d using old where d.message_id = old.id returning d.id
    ), attempts as (
      delete from webhook_attempts a using deliveries where a.delivery_id = deliveries.id
    ), messages as (
      delete from webhook_messages m using old where m.id = old.id returning 1
    )
    select count(*)::int as n from messages`);
  return result.rows[0]!.n;
}

/**
 * Right to erasure, for the outbox: every message about `customerId` that has not been delivered
 * goes, with the data in it. Messages not yet fanned out are deleted; of those fanned out, every
 * delivery that did not succeed (pending or failed, so neither a retry nor a recovery can send it
 * later) is deleted with its attempt rows, and the message with it unless some endpoint already
 * received it. What was delivered stays in the delivery log: it cannot be recalled from the
 * receiver. The messages are locked first, so a relay pass (which skips locked rows) cannot fan
 * one out meanwhile. Finding them reads each message body: erasures are rare and admin-only.
 */
export async function purgeUndeliveredMessages(db: DbOrTx, customerId: string): Promise<{ messages: number; deliveries: number }> {
  const locked = await db.execute<{ id: string }>(sql`
    select id from webhook_messages where (body::jsonb -> 'data' ->> 'customer_id') = ${customerId} for update`);
  if (locked.rows.length === 0) return { messages: 0, deliveries: 0 };
  const ids = sql`(select jsonb_array_elements_text(${JSON.stringify(locked.rows.map((r) => r.id))}::jsonb))`;
  const deliveries = await db.execute<{ id: string }>(sql`
    with gone as (
      delete from webhook_deliveries where message_id in ${ids} and status <> 'succeeded' returning id
    ), attempts as (
      delete from webhook_attempts a using gone where a.delivery_id = gone.id
    )
    select id from gone`);
  const messages = await db.execute<{ id: string }>(sql`
    delete from webhook_messages m where m.id in ${ids}
      and not exists (select 1 from webhook_deliveries d where d.message_id = m.id)
    returning m.id`);
  return { messages: messages.rows.length, deliveries: deliveries.rows.length };
}

/** The outbox backlog: messages not yet fanned out, and deliveries waiting for an attempt (a first one or a retry). */
export async function outboxBacklog(db: DbOrTx): Promise<{ messages: number; deliveries: number }> {
  const [row] = (
    await db.execute<{ messages: number; deliveries: number }>(sql`
      select (select count(*)::int from webhook_messages where fanned_out_at is null) as messages,
             (select count(*)::int from webhook_deliveries where status = 'pending') as deliveries`)
  ).rows;
  return row ?? { messages: 0, deliveries: 0 };
}
