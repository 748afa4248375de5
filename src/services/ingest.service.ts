import type { Deps } from '../deps.ts';
import { createIngestBatcher, MAX_JOB_EVENTS } from '../queues/ingest.batcher.ts';
import { toIngestEvents, type IngestContext } from '../domain/events/events.checks.ts';
import type { JobPayloads } from '../queues/queues.ts';
import type { EventInput } from '../domain/events/events.schemas.ts';
import type { DbOrTx } from '../store/db.ts';
import { insertEvents, mergeTraits } from '../store/events.repo.ts';
import { enqueueRecomputes } from '../queues/queues.ts';
import type { IngestEvent } from '../domain/events/events.types.ts';
import { unavailable } from './errors.ts';

export type EnqueueIngest = (events: EventInput[], ctx: IngestContext) => Promise<number>;

/**
 * Queues requests' valid events as ingest jobs. Each call resolves only once Redis holds its
 * events, and refuses with 503 and Retry-After while the backlog is over the limit or Redis is
 * unreachable, so nothing is half-accepted. Requests in the same event-loop turn share a job (the
 * batcher); a request larger than one job (a 500 KB Segment batch can hold thousands of events) is
 * split, and addBulk writes all its parts in one Redis transaction, so it is still all or nothing.
 */
export function createIngestEnqueuer(deps: Pick<Deps, 'queues' | 'config' | 'metrics'>): EnqueueIngest {
  const queue = deps.queues.ingest;
  const backlog = cachedWaitingCount(queue);
  const batcher = createIngestBatcher(queue, backlog.added);

  function addParts(receivedAt: Date, events: ReturnType<typeof toIngestEvents>): Promise<unknown> {
    const jobs: { name: 'ingest'; data: JobPayloads['ingest'] }[] = [];
    for (let i = 0; i < events.length; i += MAX_JOB_EVENTS) {
      jobs.push({ name: 'ingest', data: { receivedAt: receivedAt.toISOString(), events: events.slice(i, i + MAX_JOB_EVENTS) } });
    }
    return queue.addBulk(jobs).then(() => jobs.forEach(() => backlog.added()));
  }

  return async (events, ctx) => {
    const waiting = await backlog.read().catch(() => {
      throw unavailable('The event queue is unreachable; retry shortly.', 5);
    });
    if (waiting > deps.config.INGEST_MAX_WAITING) {
      throw unavailable(`The ingest backlog holds ${waiting} batches; retry shortly.`, 5);
    }
    const prepared = toIngestEvents(events, ctx);
    const queued = prepared.length <= MAX_JOB_EVENTS ? batcher.add(ctx.receivedAt, prepared) : addParts(ctx.receivedAt, prepared);
    await queued.catch(() => {
      throw unavailable('The event queue is unreachable; nothing was accepted. Retry shortly.', 5);
    });
    deps.metrics.eventsAccepted.inc(events.length);
    return events.length;
  };
}

/** How long a read of the ingest backlog is reused: the limit is a guard against a growing queue, not an exact count. */
const BACKLOG_TTL_MS = 100;

/** The waiting count, read at most every BACKLOG_TTL_MS, plus the jobs this process added since. */
function cachedWaitingCount(queue: Deps['queues']['ingest']) {
  let value: { n: number; at: number } | undefined;
  let inFlight: Promise<number> | undefined;
  return {
    read(): Promise<number> {
      if (value && Date.now() - value.at < BACKLOG_TTL_MS) return Promise.resolve(value.n);
      inFlight ??= queue
        .getWaitingCount()
        .then((n) => {
          value = { n, at: Date.now() };
          return n;
        })
        .finally(() => (inFlight = undefined));
      return inFlight;
    },
    added(): void {
      if (value) value.n += 1;
    },
  };
}

/**
 * Stores one ingest job's events. The customer rows and the events go in one statement, with the
 * trait merge in the same transaction when the job has `customer` events, so a worker killed at any
 * point leaves either all or nothing; the retried job then finds its events stored and inserts
 * none twice.
 */
export async function storeEvents(
  deps: Pick<Deps, 'db' | 'redis' | 'config' | 'queues' | 'metrics'>,
  job: { events: IngestEvent[]; receivedAt: string },
): Promise<{ stored: number; duplicates: number }> {
  const { events, receivedAt } = job;
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
