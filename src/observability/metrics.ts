import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Redis } from 'ioredis';
import type { Queues } from '../queues/queues.ts';
import { countDirty } from '../queues/recompute.dirty.ts';

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
      'Segment/RudderStack messages not stored, by type and reason (anonymous: only an anonymousId; malformed; not_stored: page, screen, group, alias)',
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
