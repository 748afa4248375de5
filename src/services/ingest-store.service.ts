import type { Deps } from '../deps.ts';
import type { IngestEvent } from '../domain/events/events.types.ts';
import { dbFailureOf, isDataError, type DbFailure, type DbOrTx } from '../store/db.ts';
import { insertEvents, mergeTraits } from '../store/events.repo.ts';
import { deleteDeadLetter, findDeadLetter, listDeadLetters, parkDeadLetter } from '../store/dead-letters.repo.ts';
import { enqueueRecomputes } from '../queues/queues.ts';
import { notFound } from './errors.ts';

export interface StoreOutcome {
  stored: number;
  /** events Postgres refused with a data error, now in dead_letters */
  parked: number;
  /** the last refusal, for one log line per job */
  failure?: DbFailure;
}

type StoreDeps = Pick<Deps, 'db' | 'clock'>;

/**
 * One statement, plus the trait merge in the same transaction when there are `customer` events:
 * all of `events` or none. Duplicates (a retried job) are no-ops.
 */
async function storeAtomically(db: DbOrTx, events: IngestEvent[], receivedAt: Date): Promise<number> {
  const store = async (tx: DbOrTx) => {
    const batch = await insertEvents(tx, events, receivedAt);
    await mergeTraits(tx, batch.withTraits);
    return batch.stored;
  };
  // Without traits to merge the statement commits on its own: no BEGIN and COMMIT round trips.
  return events.some((e) => e.type === 'customer') ? db.transaction(store) : store(db);
}

/** The event as parked: with its own receipt time, so a replay stores what the job would have. */
const asQueued = (event: IngestEvent, receivedAt: Date): IngestEvent =>
  event.received_at ? event : { ...event, received_at: receivedAt.toISOString() };

/**
 * Stores a job's events so that one event Postgres refuses never costs the others: the whole job
 * goes in one statement; when Postgres refuses it with a data error (which no retry can cure), the
 * job is split in halves and each half stored the same way, down to the single events that are
 * refused, which are parked in dead_letters with the reason. A job with one bad event among n costs
 * about 2·log2(n) statements. Any other error (a lost connection, a restart) is thrown, and the
 * job is retried: every part already committed is then a duplicate, so nothing is stored twice.
 */
export async function storeEvents(deps: StoreDeps, events: IngestEvent[], receivedAt: Date): Promise<StoreOutcome> {
  try {
    return { stored: await storeAtomically(deps.db, events, receivedAt), parked: 0 };
  } catch (err) {
    if (!isDataError(err)) throw err;
    const failure = dbFailureOf(err);
    if (events.length === 1) {
      await parkDeadLetter(deps.db, asQueued(events[0]!, receivedAt), failure, deps.clock.now());
      return { stored: 0, parked: 1, failure };
    }
    const mid = Math.ceil(events.length / 2);
    const first = await storeEvents(deps, events.slice(0, mid), receivedAt);
    const second = await storeEvents(deps, events.slice(mid), receivedAt);
    return { stored: first.stored + second.stored, parked: first.parked + second.parked, failure: second.failure ?? first.failure };
  }
}

export type ReplayOutcome =
  | { id: string; outcome: 'stored' | 'duplicate' }
  | { id: string; outcome: 'refused'; error: { code: string; message: string } };

/**
 * Stores a parked event again (after the fix that makes Postgres accept it): in one transaction
 * the event is stored and its dead letter removed, so it is stored exactly once. Refused again,
 * the dead letter stays with the new reason. A stored event's customer is recomputed.
 */
export async function replayDeadLetter(deps: Pick<Deps, 'db' | 'clock' | 'redis' | 'config' | 'queues' | 'metrics'>, id: number): Promise<ReplayOutcome> {
  const result = await deps.db.transaction(async (tx): Promise<ReplayOutcome & { customerId?: string }> => {
    const parked = await findDeadLetter(tx, id, { lock: true });
    if (!parked) throw notFound(`Dead letter "${id}"`);
    const { event } = parked;
    try {
      // A savepoint: a refusal leaves the transaction usable to record it.
      const stored = await tx.transaction((sp) => storeAtomically(sp, [event], new Date(event.received_at ?? parked.first_failed_at)));
      await deleteDeadLetter(tx, id);
      return { id: parked.id, outcome: stored === 1 ? 'stored' : 'duplicate', customerId: event.customer_id };
    } catch (err) {
      if (!isDataError(err)) throw err;
      const failure = dbFailureOf(err);
      await parkDeadLetter(tx, event, failure, deps.clock.now());
      return { id: parked.id, outcome: 'refused', error: { code: failure.code ?? 'unknown', message: failure.message } };
    }
  });
  const { customerId, ...outcome } = result;
  if (outcome.outcome === 'stored') deps.metrics.eventsStored.inc();
  if (outcome.outcome === 'duplicate') deps.metrics.eventsDuplicate.inc();
  if (customerId !== undefined) await enqueueRecomputes(deps, [customerId]);
  return outcome;
}

/** At most this many dead letters per replay-all request. */
export const REPLAY_ALL_LIMIT = 1_000;

/** Replays the oldest dead letters one by one (each its own transaction), up to REPLAY_ALL_LIMIT. */
export async function replayAllDeadLetters(deps: Parameters<typeof replayDeadLetter>[0]) {
  const counts = { stored: 0, duplicate: 0, refused: 0 };
  let after: number | undefined;
  let seen = 0;
  while (seen < REPLAY_ALL_LIMIT) {
    const page = await listDeadLetters(deps.db, after, Math.min(100, REPLAY_ALL_LIMIT - seen));
    if (page.length === 0) break;
    for (const parked of page) {
      const outcome = await replayDeadLetter(deps, Number(parked.id)).catch((err: unknown) => {
        // Replayed meanwhile by another request: nothing left to do for it.
        if ((err as { status?: number }).status === 404) return undefined;
        throw err;
      });
      if (outcome) counts[outcome.outcome] += 1;
    }
    seen += page.length;
    after = Number(page[page.length - 1]!.id);
  }
  return counts;
}
