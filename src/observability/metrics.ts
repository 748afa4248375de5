import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import type { Queues } from '../queues/queues.ts';
import type { Logger } from 'pino';
import { countDirty } from '../queues/recompute.dirty.ts';
import type { Db } from '../store/db.ts';
import { oldestDueReview } from '../store/customers.repo.ts';
import { latestStatsComputedAt } from '../store/stats.repo.ts';
import { outboxBacklog } from '../store/webhooks.repo.ts';

export type Metrics = ReturnType<typeof createMetrics>;

/** One registry per process (tests build several apps in one process, so no global default registry). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    new Counter({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    eventsAccepted: counter('tierwise_events_accepted_total', 'Events accepted by the API and queued'),
    eventsRejected: counter('tierwise_events_rejected_total', 'Events in requests refused by validation'),
    eventsStored: counter('tierwise_events_stored_total', 'Events stored by the ingest worker'),
    eventsDuplicate: counter('tierwise_events_duplicate_total', 'Events ignored because their id (or order id) was already stored'),
    eventsDeadLettered: counter('tierwise_events_dead_lettered_total', 'Accepted events Postgres refused with a data error, parked in dead_letters'),
    segmentReceived: counter('tierwise_segment_messages_received_total', 'Segment/RudderStack messages received, by message type', ['type']),
    segmentSkipped: counter(
      'tierwise_segment_messages_skipped_total',
      'Segment/RudderStack messages not stored, by type and reason (malformed; not_stored: page, screen, group)',
      ['type', 'reason'],
    ),
    recomputeDuration: new Histogram({
      name: 'tierwise_recompute_duration_seconds',
      help: 'Time to recompute one batch of customers',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    customersRecomputed: counter('tierwise_customers_recomputed_total', 'Customers recomputed'),
    customerDerivations: counter('tierwise_customer_derivations_total', 'Customers derived, by source: a stored digest, or their events', ['source']),
    webhookAttempts: counter('tierwise_webhook_attempts_total', 'Webhook delivery attempts by outcome', ['outcome']),
    sweepLag: new Gauge({
      name: 'tierwise_sweep_lag_seconds',
      help: 'How late the oldest due review was when the last sweep ran',
      registers: [registry],
    }),
  };
}

/** Queue depths are read from Redis at scrape time. */
export function registerQueueDepths(metrics: Metrics, queues: Queues, redis: Redis, prefix: string): void {
  new Gauge({
    name: 'tierwise_queue_jobs',
    help: 'Jobs per queue and state (state customers_waiting: customers waiting for a recompute drain)',
    labelNames: ['queue', 'state'],
    registers: [metrics.registry],
    async collect() {
      for (const [name, queue] of Object.entries(queues)) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: name, state }, n);
      }
      this.set({ queue: 'recompute', state: 'customers_waiting' }, await countDirty(redis, prefix));
    },
  });
}

/** Dead letters waiting for a replay, counted in Postgres at scrape time. */
export function registerDeadLetterCount(metrics: Metrics, count: () => Promise<number>): void {
  new Gauge({
    name: 'tierwise_dead_letters',
    help: 'Accepted events parked in dead_letters (refused by Postgres), waiting for a replay',
    registers: [metrics.registry],
    async collect() {
      // Postgres unreachable: the scrape still answers (with the last count), /readyz reports the outage.
      const n = await count().catch(() => undefined);
      if (n !== undefined) this.set(n);
    },
  });
}

/** What the backlog gauges read: the database, and the clock their ages are measured against. */
export interface BacklogSources {
  db: Db;
  now(): Date;
  logger: Logger;
}

/**
 * Gauges an operator alerts on, read from Postgres at scrape time (one small query each, on
 * indexes): the outbox backlog, how late the oldest due review is, and the age of the population
 * statistics. A failed read is logged and leaves the gauge at its last value.
 */
export function registerBacklogGauges(metrics: Metrics, sources: BacklogSources): void {
  const gauge = (name: string, help: string, read: (g: Gauge) => Promise<void>) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      async collect() {
        await read(this).catch((err: unknown) => sources.logger.warn({ err, metric: name }, 'metric not collected'));
      },
    });
  let backlog: Promise<{ messages: number; deliveries: number }> | undefined;
  // Both outbox gauges come from one query per scrape.
  const outbox = () => (backlog ??= outboxBacklog(sources.db).finally(() => setImmediate(() => (backlog = undefined))));
  gauge('tierwise_webhook_messages_pending', 'Webhook outbox messages not yet fanned out to the endpoints', async (g) => {
    g.set((await outbox()).messages);
  });
  gauge('tierwise_webhook_deliveries_pending', 'Webhook deliveries waiting for an attempt (a first one or a retry)', async (g) => {
    g.set((await outbox()).deliveries);
  });
  gauge('tierwise_review_lag_seconds', 'How long the oldest due review (next_review_at in the past) has been waiting; 0 when none is due', async (g) => {
    const now = sources.now();
    const due = await oldestDueReview(sources.db, now);
    g.set(due ? Math.max(0, (now.getTime() - due.getTime()) / 1000) : 0);
  });
  gauge('tierwise_population_stats_age_seconds', 'Age of the population statistics in force; +Inf before the first computation', async (g) => {
    const at = await latestStatsComputedAt(sources.db);
    g.set(at ? Math.max(0, (sources.now().getTime() - at.getTime()) / 1000) : Number.POSITIVE_INFINITY);
  });
}
