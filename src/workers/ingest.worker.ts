import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import { enqueueRecomputes, type JobPayloads } from '../queues/queues.ts';
import { storeEvents } from '../services/ingest-store.service.ts';
import { dbFailureOf } from '../store/db.ts';

/**
 * Stores one ingest job's events (storeEvents: all in one statement, or, when Postgres refuses the
 * data, every event it accepts, the others parked in dead_letters), so a worker killed at any point
 * leaves each part all or nothing and the retried job inserts none twice. An error that may pass
 * (a lost connection) fails the job for BullMQ to retry, with only Postgres' code and message:
 * the error drizzle throws holds every parameter, the whole payload, and would be logged on every
 * attempt.
 */
export async function processIngest(deps: Deps, job: Job<JobPayloads['ingest']>): Promise<{ stored: number; duplicates: number; parked: number }> {
  const { events, receivedAt } = job.data;
  const customerIds = new Set(events.map((e) => e.customer_id));
  const outcome = await storeEvents(deps, events, new Date(receivedAt)).catch((err: unknown) => {
    const { code, message } = dbFailureOf(err);
    throw new Error(`storing ${events.length} events failed${code ? ` (${code})` : ''}: ${message}`);
  });
  const duplicates = events.length - outcome.stored - outcome.parked;
  deps.metrics.eventsStored.inc(outcome.stored);
  deps.metrics.eventsDuplicate.inc(duplicates);
  if (outcome.parked > 0) {
    deps.metrics.eventsDeadLettered.inc(outcome.parked);
    deps.logger.warn({ jobId: job.id, events: events.length, stored: outcome.stored, parked: outcome.parked, code: outcome.failure?.code, reason: outcome.failure?.message }, 'events refused by Postgres parked in dead_letters');
  }
  // Every customer of the job, not only those with new rows: if a previous attempt committed and
  // died before this line, its recomputes would otherwise be lost. Recomputes are idempotent.
  await enqueueRecomputes(deps, customerIds);
  return { stored: outcome.stored, duplicates, parked: outcome.parked };
}
