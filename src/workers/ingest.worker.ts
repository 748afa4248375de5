import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import type { DbOrTx } from '../store/db.ts';
import { insertEvents, mergeTraits } from '../store/events.repo.ts';
import { enqueueRecomputes, type JobPayloads } from '../queues/queues.ts';

/**
 * Stores one accepted request's events. The customer rows and the events go in one statement,
 * with the trait merge in the same transaction when the job has `customer` events, so a worker
 * killed at any point leaves either all or nothing; the retried job then finds its events stored
 * and inserts none twice.
 */
export async function processIngest(deps: Deps, job: Job<JobPayloads['ingest']>): Promise<{ stored: number; duplicates: number }> {
  const { events, receivedAt } = job.data;
  const customerIds = new Set(events.map((e) => e.customer_id));
  const store = async (db: DbOrTx) => {
    const batch = await insertEvents(db, events, new Date(receivedAt));
    await mergeTraits(db, batch.withTraits);
    return batch;
  };
  // Without traits to merge the statement commits on its own: no BEGIN and COMMIT round trips.
  const { stored } = events.some((e) => e.type === 'customer') ? await deps.db.transaction(store) : await store(deps.db);
  const duplicates = events.length - stored;
  deps.metrics.eventsStored.inc(stored);
  deps.metrics.eventsDuplicate.inc(duplicates);
  // Every customer of the job, not only those with new rows: if a previous attempt committed and
  // died before this line, its recomputes would otherwise be lost. Recomputes are idempotent.
  await enqueueRecomputes(deps, customerIds);
  return { stored, duplicates };
}
