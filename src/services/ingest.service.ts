import type { Deps } from '../deps.ts';
import { createIngestBatcher, MAX_JOB_EVENTS } from '../queues/ingest.batcher.ts';
import { toIngestEvents, type IngestContext } from '../domain/events/events.checks.ts';
import type { JobPayloads } from '../queues/queues.ts';
import type { EventInput } from '../domain/events/events.schemas.ts';
import { dbFailureOf, isDataError, type DbFailure, type DbOrTx } from '../store/db.ts';
import { parkDeadLetter } from '../store/dead-letters.repo.ts';
import { insertEvents, mergeTraits } from '../store/events.repo.ts';
import { enqueueRecomputes } from '../queues/queues.ts';
import type { IngestEvent } from '../domain/events/events.types.ts';
import { unavailable } from './errors.ts';
import { lockIdentities, survivorsOf } from '../store/identity.repo.ts';
import { aliasRequests, mergeByEmail, mergeProfiles } from './identity.service.ts';

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
 * Under the identity lock, shared (store/identity.repo.ts): events for a merged id are routed to
 * its survivor, then stored in one statement, plus the trait merge when there are `customer`
 * events: all of `events` or none. Duplicates (a retried job) are no-ops. `owners` collects the
 * customers the events were stored under.
 */
export async function storeAtomically(db: DbOrTx, events: IngestEvent[], receivedAt: Date, owners?: Set<string>): Promise<number> {
  return db.transaction(async (tx) => {
    await lockIdentities(tx, 'shared');
    const survivors = await survivorsOf(tx, [...new Set(events.map((e) => e.customer_id))]);
    const routed = survivors.size === 0 ? events : events.map((e) => (survivors.has(e.customer_id) ? { ...e, customer_id: survivors.get(e.customer_id)! } : e));
    for (const e of routed) owners?.add(e.customer_id);
    const batch = await insertEvents(tx, routed, receivedAt);
    await mergeTraits(tx, batch.withTraits);
    return batch.stored;
  });
}

interface Isolated {
  stored: number;
  /** events Postgres refused with a data error, now in dead_letters */
  parked: number;
  /** the last refusal, for one log line per job */
  failure?: DbFailure;
}

/** The event as parked: with its own receipt time, so a replay stores what the job would have. */
const asQueued = (event: IngestEvent, receivedAt: Date): IngestEvent =>
  event.received_at ? event : { ...event, received_at: receivedAt.toISOString() };

/**
 * Stores events so that one Postgres refuses never costs the others: all in one statement; when
 * Postgres refuses it with a data error (which no retry can cure), the events are split in halves
 * and each half stored the same way, down to the single events that are refused, which are parked
 * in dead_letters with the reason. One bad event among n costs about 2·log2(n) statements. Any
 * other error (a lost connection, a restart) is thrown.
 */
async function storeIsolating(deps: Pick<Deps, 'db' | 'clock'>, events: IngestEvent[], receivedAt: Date, owners: Set<string>): Promise<Isolated> {
  if (events.length === 0) return { stored: 0, parked: 0 };
  try {
    return { stored: await storeAtomically(deps.db, events, receivedAt, owners), parked: 0 };
  } catch (err) {
    if (!isDataError(err)) throw err;
    const failure = dbFailureOf(err);
    if (events.length === 1) {
      await parkDeadLetter(deps.db, asQueued(events[0]!, receivedAt), failure, deps.clock.now());
      return { stored: 0, parked: 1, failure };
    }
    const mid = Math.ceil(events.length / 2);
    const first = await storeIsolating(deps, events.slice(0, mid), receivedAt, owners);
    const second = await storeIsolating(deps, events.slice(mid), receivedAt, owners);
    return { stored: first.stored + second.stored, parked: first.parked + second.parked, failure: second.failure ?? first.failure };
  }
}

/**
 * Stores one ingest job's events (storeIsolating: all in one statement, or, when Postgres refuses
 * the data, every event it accepts, the others parked in dead_letters), so a worker killed at any
 * point leaves each part all or nothing and the retried job inserts none twice. An error that may
 * pass (a lost connection) fails the job for BullMQ to retry, with only Postgres' code and
 * message: the error drizzle throws holds every parameter, the whole payload, and would be logged
 * on every attempt.
 */
export async function storeEvents(
  deps: Pick<Deps, 'db' | 'clock' | 'logger' | 'redis' | 'config' | 'queues' | 'metrics'>,
  job: { events: IngestEvent[]; receivedAt: string },
): Promise<{ stored: number; duplicates: number; parked: number }> {
  const { receivedAt } = job;
  // Alias events merge profiles after the job's other events are stored: whichever order they came
  // in, every event ends under its final survivor (docs/architecture.md, "Identity").
  const events = job.events.filter((e) => e.type !== 'alias');
  const aliases = aliasRequests(job.events);
  const owners = new Set<string>();
  const outcome = await storeIsolating(deps, events, new Date(receivedAt), owners).catch((err: unknown) => {
    const { code, message } = dbFailureOf(err);
    throw new Error(`storing ${events.length} events failed${code ? ` (${code})` : ''}: ${message}`);
  });
  const merges = await mergeProfiles(deps, aliases);
  const withTraits = events.filter((e) => e.type === 'customer').map((e) => e.customer_id);
  await mergeByEmail(deps, withTraits, deps.clock.now());
  // An alias is stored once its merge (or refusal) is recorded; a second copy is a duplicate.
  const stored = outcome.stored + merges.filter((m) => m.outcome !== 'duplicate').length;
  const duplicates = job.events.length - stored - outcome.parked;
  deps.metrics.eventsStored.inc(stored);
  deps.metrics.eventsDuplicate.inc(duplicates);
  if (outcome.parked > 0) {
    deps.metrics.eventsDeadLettered.inc(outcome.parked);
    const { code, message: reason } = outcome.failure ?? {};
    deps.logger.warn({ events: events.length, stored: outcome.stored, parked: outcome.parked, code, reason }, 'events refused by Postgres parked in dead_letters');
  }
  const refused = merges.flatMap((m, i) => (m.outcome === 'refused' ? [{ event_id: aliases[i]!.eventId, reason: m.reason }] : []));
  if (refused.length > 0) deps.logger.info({ refused }, 'merges refused');
  // Every customer the job's events were stored under (routed to survivors), not only those with
  // new rows: if a previous attempt committed and died before this line, its recomputes would
  // otherwise be lost. Recomputes are idempotent.
  await enqueueRecomputes(deps, owners);
  return { stored, duplicates, parked: outcome.parked };
}
