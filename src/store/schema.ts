import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
} from 'drizzle-orm/pg-core';

const instant = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
// 24 digits before the point: a customer's total of a billion orders of the largest amount an event may carry (15 digits) still fits.
const money = (name: string) => numeric(name, { precision: 28, scale: 4 });

/**
 * One row per customer: traits plus the derived state the recompute worker writes. The columns are
 * in the order they are stored, widest alignment first (8-byte instants, floats and the sequence,
 * then integers, smallints, the flag, then the variable-length values, the long digest last), so
 * no row pads between them (docs/architecture.md, Storage).
 * Derived state is null (or the default) until the first recompute (computed_at null). The metrics
 * (domain/facts/metrics.ts) are one typed column each rather than a JSON object with its keys on
 * every row; `recency_days` and `tenure_days` are not stored: the API and rules measure them up to now.
 */
export const customers = pgTable(
  'customers',
  {
    createdAt: instant('created_at').notNull().defaultNow(),
    computedAt: instant('computed_at'),
    lastOrderAt: instant('last_order_at'),
    firstOrderAt: instant('first_order_at'),
    previousOrderAt: instant('previous_order_at'),
    firstEventAt: instant('first_event_at'),
    lastInteractionAt: instant('last_interaction_at'),
    nextReviewAt: instant('next_review_at'),
    pendingSince: instant('pending_since'),
    atRiskSince: instant('at_risk_since'),
    cadenceDays: doublePrecision('cadence_days'),
    discountOrderShare: doublePrecision('discount_order_share'),
    satisfactionAvg: doublePrecision('satisfaction_avg'),
    // BG/NBD + Gamma-Gamma predictions as of computed_at (with clv_12m); null until a model is in force and
    // for customers without a model purchase (modelPurchases); a prospect whose only orders are free has them.
    pAlive: doublePrecision('p_alive'),
    expectedOrders90d: doublePrecision('expected_orders_90d'),
    // Counts the customer's state changes: a 4-byte integer holds a change a second for 68 years.
    sequence: integer('sequence').notNull().default(0),
    orderCount: integer('order_count').notNull().default(0),
    orders365d: integer('orders_365d').notNull().default(0),
    distinctCategories: integer('distinct_categories').notNull().default(0),
    interactions90d: integer('interactions_90d').notNull().default(0),
    complaints90d: integer('complaints_90d').notNull().default(0),
    rScore: smallint('r_score'),
    fScore: smallint('f_score'),
    mScore: smallint('m_score'),
    valueScore: smallint('value_score'),
    atRisk: boolean('at_risk').notNull().default(false),
    id: text('id').primaryKey(),
    // Fingerprint of the stored state (domain/customer/customer-state.row.ts stateHash); null until the first recompute.
    stateHash: text('state_hash'),
    netRevenue: money('net_revenue').notNull().default('0'),
    revenue365d: money('revenue_365d').notNull().default('0'),
    avgOrderValue: money('avg_order_value'),
    clv12m: money('clv_12m'),
    tier: text('tier'),
    pendingTier: text('pending_tier'),
    lifecycleStage: text('lifecycle_stage'),
    rfmSegment: text('rfm_segment'),
    abcClass: text('abc_class'),
    // Copied out of the metrics so listings can filter on them through indexes.
    region: text('region'),
    preferredChannel: text('preferred_channel'),
    priceSensitivity: text('price_sensitivity'),
    traits: jsonb('traits').$type<Record<string, unknown>>().notNull().default({}),
    // null for none (most customers): an empty JSON array would take bytes on every row
    atRiskReasons: jsonb('at_risk_reasons').$type<unknown[]>(),
    topCategories: jsonb('top_categories').$type<string[]>(),
    // The events reduced as of the last recompute (domain/facts/digest.ts, packed): a rescore derives from
    // it instead of the events while it is current.
    digest: text('digest'),
  },
  (t) => [
    index('customers_next_review_at_idx').on(t.nextReviewAt).where(sql`${t.nextReviewAt} is not null`),
    // Listings filter on one value, which is never null: the prospects' nulls (a tenth of the customers)
    // are left out of the indexes on tier, rfm_segment, abc_class, region and the scores.
    index('customers_tier_idx').on(t.tier, t.id).where(sql`${t.tier} is not null`),
    index('customers_lifecycle_idx').on(t.lifecycleStage, t.id),
    // A stage in one region pages in id order through this, instead of walking the stage (or the
    // primary key) and dropping the other regions.
    index('customers_lifecycle_region_idx').on(t.lifecycleStage, t.region, t.id).where(sql`${t.region} is not null`),
    index('customers_rfm_segment_idx').on(t.rfmSegment, t.id).where(sql`${t.rfmSegment} is not null`),
    index('customers_abc_idx').on(t.abcClass, t.id).where(sql`${t.abcClass} is not null`),
    // An RFM grid cell pages through it biggest spenders first; the grid report counts the cells on it.
    index('customers_rf_revenue_idx').on(t.rScore, t.fScore, t.netRevenue, t.id).where(sql`${t.rScore} is not null`),
    index('customers_region_idx').on(t.region, t.id).where(sql`${t.region} is not null`),
    index('customers_at_risk_idx').on(t.id).where(sql`${t.atRisk}`),
    // The at-risk view pages its customers biggest spenders first; the top spenders are rarely at
    // risk, so walking customers_net_revenue_idx reads most buyers before it fills a page.
    index('customers_at_risk_revenue_idx').on(t.netRevenue, t.id).where(sql`${t.atRisk}`),
    index('customers_net_revenue_idx').on(t.netRevenue, t.id),
    // Recency filters (rules, max_recency_days) range over it, and the listing's last_order_at sorts
    // walk it: prospects (no order) first, as they sort first ascending (store/customers.list.repo.ts).
    index('customers_last_order_idx').on(t.lastOrderAt.asc().nullsFirst(), t.id),
  ],
);

/** Every accepted event, first stored copy wins forever (primary key on the event id). */
export const events = pgTable(
  'events',
  {
    id: text('id').primaryKey(),
    customerId: text('customer_id').notNull(),
    type: text('type').notNull(),
    occurredAt: instant('occurred_at').notNull(),
    receivedAt: instant('received_at').notNull(),
    orderId: text('order_id'),
    /** The type-specific fields, money as decimal strings. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    properties: jsonb('properties').$type<Record<string, unknown>>(),
  },
  (t) => [
    index('events_customer_occurred_idx').on(t.customerId, t.occurredAt),
    // A second order with the same order id for the same customer is a duplicate order.
    uniqueIndex('events_customer_order_uidx').on(t.customerId, t.orderId).where(sql`${t.type} = 'order'`),
  ],
);

export const apiKeys = pgTable('api_keys', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  /** SHA-256 of the secret; keys are 256-bit random, so a slow hash adds nothing. */
  keyHash: text('key_hash').notNull().unique(),
  scopes: text('scopes').array().notNull(),
  createdAt: instant('created_at').notNull().defaultNow(),
  revokedAt: instant('revoked_at'),
});

/** Each tier/lifecycle/at-risk (later segment) change, with the instant it became true. */
export const customerHistory = pgTable(
  'customer_history',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    customerId: text('customer_id').notNull(),
    kind: text('kind').notNull(),
    before: jsonb('before'),
    after: jsonb('after'),
    reasons: jsonb('reasons').$type<unknown[]>().notNull().default([]),
    changedAt: instant('changed_at').notNull(),
    recordedAt: instant('recorded_at').notNull().defaultNow(),
    sequence: bigint('sequence', { mode: 'number' }).notNull(),
  },
  (t) => [index('customer_history_customer_idx').on(t.customerId, t.changedAt)],
);

export const tierPolicies = pgTable('tier_policies', {
  version: integer('version').primaryKey(),
  document: jsonb('document').$type<Record<string, unknown>>().notNull(),
  createdAt: instant('created_at').notNull().defaultNow(),
});

/** RFM breakpoints and ABC cut-offs over buyers; the newest version is current. */
export const populationStats = pgTable('population_stats', {
  version: integer('version').primaryKey(),
  computedAt: instant('computed_at').notNull(),
  buyers: integer('buyers').notNull(),
  breakpoints: jsonb('breakpoints').$type<Record<string, number[]>>(),
  abc: jsonb('abc').$type<{ a_min: string | null; b_min: string | null }>(),
});

/** Webhook subscriptions. The previous secret keeps signing alongside the new one until it expires. */
export const webhookEndpoints = pgTable('webhook_endpoints', {
  id: text('id').primaryKey(),
  url: text('url').notNull(),
  description: text('description'),
  events: text('events').array().notNull(),
  enabled: boolean('enabled').notNull().default(true),
  disabledReason: text('disabled_reason'),
  secret: text('secret').notNull(),
  previousSecret: text('previous_secret'),
  previousSecretExpiresAt: instant('previous_secret_expires_at'),
  /** First failed attempt since the last success: five days of only failures disables the endpoint. */
  failingSince: instant('failing_since'),
  lastSuccessAt: instant('last_success_at'),
  createdAt: instant('created_at').notNull().defaultNow(),
  updatedAt: instant('updated_at').notNull().defaultNow(),
});

/** Transactional outbox: written in the same transaction as the change it announces. */
export const webhookMessages = pgTable(
  'webhook_messages',
  {
    id: text('id').primaryKey(),
    type: text('type').notNull(),
    /** The exact JSON body delivered (and signed). */
    body: text('body').notNull(),
    createdAt: instant('created_at').notNull(),
    fannedOutAt: instant('fanned_out_at'),
  },
  (t) => [index('webhook_messages_pending_idx').on(t.createdAt).where(sql`${t.fannedOutAt} is null`)],
);

/** One message to one endpoint; the row id is the queue job id. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: text('id').primaryKey(),
    endpointId: text('endpoint_id').notNull(),
    messageId: text('message_id').notNull(),
    status: text('status').$type<'pending' | 'succeeded' | 'failed'>().notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: instant('next_attempt_at'),
    /** Claimed by a relay pass until this instant; a crash before delivery lets it be claimed again. */
    claimedUntil: instant('claimed_until'),
    lastAttemptAt: instant('last_attempt_at'),
    createdAt: instant('created_at').notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_endpoint_message_uidx').on(t.endpointId, t.messageId),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index('webhook_deliveries_endpoint_idx').on(t.endpointId, t.createdAt),
  ],
);

export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deliveryId: text('delivery_id').notNull(),
    attempt: integer('attempt').notNull(),
    outcome: text('outcome').notNull(),
    statusCode: integer('status_code'),
    durationMs: integer('duration_ms').notNull(),
    responseBody: text('response_body'),
    error: text('error'),
    createdAt: instant('created_at').notNull(),
  },
  (t) => [index('webhook_attempts_delivery_idx').on(t.deliveryId, t.attempt)],
);

/** Saved segments: a rule of the rule language; membership is kept current on every recompute. */
export const segments = pgTable('segments', {
  key: text('key').primaryKey(),
  name: text('name').notNull(),
  rule: jsonb('rule').$type<Record<string, unknown>>().notNull(),
  createdAt: instant('created_at').notNull(),
  updatedAt: instant('updated_at').notNull(),
});

export const segmentMembers = pgTable(
  'segment_members',
  {
    segmentKey: text('segment_key').notNull(),
    customerId: text('customer_id').notNull(),
    enteredAt: instant('entered_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.segmentKey, t.customerId] }), index('segment_members_customer_idx').on(t.customerId)],
);

/** Every model fit attempt; the newest `fitted` row is the model in force, a `refused` one says why not. */
export const modelFits = pgTable(
  'model_fits',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    attemptedAt: instant('attempted_at').notNull(),
    /** orders after this instant were not observed */
    asOf: instant('as_of').notNull(),
    /** fitted: in force from then on; evaluated: fitted but not activated (a backtest); refused */
    status: text('status').$type<'fitted' | 'evaluated' | 'refused'>().notNull(),
    reason: text('reason'),
    /** buyers in the fit */
    customers: integer('customers').notNull(),
    /** { bgnbd: { r, alpha, a, b, log_likelihood }, gamma_gamma: { p, q, v, log_likelihood } } when fitted */
    params: jsonb('params').$type<Record<string, Record<string, number>>>(),
    durationMs: integer('duration_ms').notNull(),
  },
  (t) => [index('model_fits_fitted_idx').on(t.id).where(sql`${t.status} = 'fitted'`)],
);

/**
 * Accepted events Postgres refused with a data error (an ingest job stores the rest of its events
 * and parks these), until a replay stores them. The payload is the queued event as JSON text, with
 * its receipt time: JSON text holds any string as an escape, which jsonb and text columns cannot.
 */
export const deadLetters = pgTable('dead_letters', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  /** SHA-256 of the payload: the same event parked again (a retried job, a failed replay) is one row. */
  payloadHash: text('payload_hash').notNull().unique(),
  payload: text('payload').notNull(),
  /** Postgres SQLSTATE and message of the last refusal */
  errorCode: text('error_code').notNull(),
  errorMessage: text('error_message').notNull(),
  firstFailedAt: instant('first_failed_at').notNull(),
  lastFailedAt: instant('last_failed_at').notNull(),
  failures: integer('failures').notNull().default(1),
});

/**
 * Identity merges (docs/architecture.md, "Identity"): each merged customer id and the survivor it
 * now belongs to, always the final one (a chain a → b → c leaves a → c and b → c). Events stored
 * for a merged id land under its survivor.
 */
export const customerAliases = pgTable(
  'customer_aliases',
  {
    mergedId: text('merged_id').primaryKey(),
    survivorId: text('survivor_id').notNull(),
    mergedAt: instant('merged_at').notNull(),
    /** the alias event (or the customer event of a trait merge) that merged it */
    eventId: text('event_id').notNull(),
  },
  (t) => [index('customer_aliases_survivor_idx').on(t.survivorId, t.mergedId)],
);

/** Every merge asked for, by event id (the idempotency key): what was merged, or why it was refused. */
export const customerMerges = pgTable(
  'customer_merges',
  {
    eventId: text('event_id').primaryKey(),
    customerId: text('customer_id').notNull(),
    previousId: text('previous_id').notNull(),
    /** merged, already_merged or refused */
    outcome: text('outcome').$type<'merged' | 'already_merged' | 'refused'>().notNull(),
    /** self_merge or cycle, for a refusal */
    reason: text('reason'),
    survivorId: text('survivor_id'),
    mergedIds: text('merged_ids').array().notNull().default(sql`'{}'::text[]`),
    occurredAt: instant('occurred_at').notNull(),
    recordedAt: instant('recorded_at').notNull().defaultNow(),
  },
  (t) => [index('customer_merges_survivor_idx').on(t.survivorId), index('customer_merges_customer_idx').on(t.customerId)],
);

/** Normalised emails of customers, for the opt-in merge by trait (IDENTITY_MERGE_TRAITS=email). */
export const customerEmails = pgTable(
  'customer_emails',
  {
    email: text('email').notNull(),
    customerId: text('customer_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.email, t.customerId] }), index('customer_emails_customer_idx').on(t.customerId)],
);
