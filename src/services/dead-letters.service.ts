import type { Deps } from '../deps.ts';
import { dbFailureOf, isDataError } from '../store/db.ts';
import { deleteDeadLetter, findDeadLetter, listDeadLetters, parkDeadLetter } from '../store/dead-letters.repo.ts';
import { enqueueRecomputes } from '../queues/queues.ts';
import { notFound } from './errors.ts';
import { storeAtomically } from './ingest.service.ts';

// Accepted events Postgres refused, parked by the ingest worker (ingest.service.ts storeEvents;
// README "Dead letters"): replayed here after a fix.

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
