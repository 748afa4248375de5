import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import { ensureCustomers, insertEvents, mergeTraits } from '../store/events.repo.ts';
import { enqueueRecomputes, type JobPayloads } from './queues.ts';

/**
 * Stores one accepted request's events. The insert is one statement in one transaction with the
 * customer rows and trait merge, so a worker killed at any point leaves either all or nothing;
 * the retried job then finds its events stored and inserts none twice.
 */
export async function processIngest(deps: Deps, job: Job<JobPayloads['ingest']>): Promise<{ stored: number; duplicates: number }> {
  const { events, receivedAt } = job.data;
  const customerIds = [...new Set(events.map((e) => e.customer_id))].sort();
  const inserted = await deps.db.transaction(async (tx) => {
    await ensureCustomers(tx, customerIds);
    const rows = await insertEvents(tx, events, new Date(receivedAt));
    const withTraits = [...new Set(rows.filter((r) => r.type === 'customer').map((r) => r.customerId))];
    await mergeTraits(tx, withTraits);
    return rows;
  });
  const duplicates = events.length - inserted.length;
  deps.metrics.eventsStored.inc(inserted.length);
  deps.metrics.eventsDuplicate.inc(duplicates);
  // Every customer of the job, not only those with new rows: if a previous attempt committed and
  // died before this line, its recomputes would otherwise be lost. Recomputes are idempotent.
  await enqueueRecomputes(deps, customerIds);
  return { stored: inserted.length, duplicates };
}
