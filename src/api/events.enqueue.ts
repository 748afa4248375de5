import type { Deps } from '../deps.ts';
import { toIngestEvents, type IngestContext } from '../pipeline/ingest.prepare.ts';
import { MAX_BATCH_EVENTS, type EventInput } from './events.schemas.ts';
import { AppError } from './problem.ts';

/**
 * Queues one request's valid events as one ingest job. Resolves only once Redis holds the job
 * (add() resolves after the write is acknowledged); refuses with 503 and Retry-After while the
 * backlog is over the limit or Redis is unreachable, so nothing is half-accepted.
 */
export async function enqueueIngest(deps: Deps, events: EventInput[], ctx: IngestContext): Promise<number> {
  const waiting = await deps.queues.ingest.getWaitingCount().catch(() => {
    throw unavailable('The event queue is unreachable; retry shortly.', 5);
  });
  if (waiting > deps.config.INGEST_MAX_WAITING) {
    throw unavailable(`The ingest backlog holds ${waiting} batches; retry shortly.`, 5);
  }
  const receivedAt = ctx.receivedAt.toISOString();
  const prepared = toIngestEvents(events, ctx);
  // One job per request. A request with more events than one insert statement should carry (a
  // Segment batch of 500 KB can hold thousands) is split, and addBulk writes all parts in one
  // Redis transaction, so the request is still queued all or nothing.
  const jobs = [];
  for (let i = 0; i < prepared.length; i += MAX_BATCH_EVENTS) {
    jobs.push({ name: 'ingest', data: { receivedAt, events: prepared.slice(i, i + MAX_BATCH_EVENTS) } });
  }
  const queued = jobs.length === 1 ? deps.queues.ingest.add('ingest', jobs[0]!.data) : deps.queues.ingest.addBulk(jobs);
  await queued.catch(() => {
    throw unavailable('The event queue is unreachable; nothing was accepted. Retry shortly.', 5);
  });
  deps.metrics.eventsAccepted.inc(events.length);
  return events.length;
}

function unavailable(detail: string, retryAfterSeconds: number): AppError {
  return new AppError(503, 'unavailable', detail, undefined, { 'retry-after': String(retryAfterSeconds) });
}
