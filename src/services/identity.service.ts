import type { Deps } from '../deps.ts';
import { chooseSurvivor, decideMerge, normaliseEmail, REFUSAL_MESSAGES } from '../domain/identity/identity.ts';
import type { IngestEvent } from '../domain/events/events.types.ts';
import { enqueueRecomputes, nudgeRelay } from '../queues/queues.ts';
import type { DbOrTx } from '../store/db.ts';
import { insertHistory } from '../store/history.repo.ts';
import { mergeTraits } from '../store/events.repo.ts';
import type { NewHistoryRow } from '../store/history.repo.ts';
import {
  emailTraits,
  firstEventInstants,
  lockIdentities,
  lockProfiles,
  mergeContext,
  moveProfile,
  recordedMerges,
  recordMerges,
  type MergeRecord,
  replaceEmails,
  survivorsOf,
} from '../store/identity.repo.ts';
import { insertMessages } from '../store/webhooks.repo.ts';
import { buildMessage, type WebhookMessage } from '../webhooks/messages.ts';

export type IdentityDeps = Pick<Deps, 'db' | 'redis' | 'config' | 'queues' | 'clock'>;

export interface MergeRequest {
  /** the alias event's id (or, for a merge by trait, one derived from the merged id): the idempotency key */
  eventId: string;
  customerId: string;
  previousId: string;
  /** the instant the merge took effect */
  at: Date;
}

export type MergeResult =
  | { outcome: 'merged'; survivor: string; mergedIds: string[] }
  | { outcome: 'already_merged'; survivor: string }
  | { outcome: 'refused'; reason: string }
  | { outcome: 'duplicate' };

/** What a run of merges writes once at its end: merge records, history rows, webhook messages, survivors whose traits to rebuild. */
interface MergeWrites {
  records: MergeRecord[];
  history: NewHistoryRow[];
  messages: WebhookMessage[];
  survivors: Set<string>;
  /** event ids handled earlier in the run */
  seen: Set<string>;
}

/**
 * One merge, in the run's transaction, under the identity lock with its rows locked (mergeProfiles):
 * recorded by its event id, so a retried job merges nothing twice. A refusal is recorded with its
 * reason, in the merge records and as a history row of `customer_id`. A merge moves the profile
 * (moveProfile) and leaves a history row on the survivor and on the merged id and a
 * `customer.merged` webhook; the survivor's own changes follow from its recompute.
 */
async function mergeOne(tx: DbOrTx, request: MergeRequest, now: Date, writes: MergeWrites): Promise<MergeResult> {
  const { eventId, customerId, previousId, at } = request;
  const { recorded, survivors, sequence: customerSequence } = await mergeContext(tx, eventId, [customerId, previousId]);
  if (recorded || writes.seen.has(eventId)) return { outcome: 'duplicate' };
  writes.seen.add(eventId);
  const decision = decideMerge({ customerId, previousId, survivorOfCustomer: survivors.get(customerId)!, survivorOfPrevious: survivors.get(previousId)! });
  const record = { eventId, customerId, previousId, occurredAt: at };
  if (decision.outcome === 'refused') {
    writes.records.push({ ...record, outcome: 'refused', reason: decision.reason, survivorId: null, mergedIds: [] });
    writes.history.push({
      customerId,
      kind: 'merge_refused',
      before: null,
      after: { previous_id: previousId, event_id: eventId, reason: decision.reason, message: REFUSAL_MESSAGES[decision.reason] },
      changedAt: at,
      sequence: customerSequence,
    });
    return { outcome: 'refused', reason: decision.reason };
  }
  if (decision.outcome === 'already_merged') {
    writes.records.push({ ...record, outcome: 'already_merged', reason: null, survivorId: decision.survivor, mergedIds: [] });
    return { outcome: 'already_merged', survivor: decision.survivor };
  }
  const { survivor, merged } = decision;
  const { mergedIds, sequence } = await moveProfile(tx, merged, survivor, at, eventId);
  writes.survivors.add(survivor);
  writes.records.push({ ...record, outcome: 'merged', reason: null, survivorId: survivor, mergedIds });
  writes.history.push(
    { customerId: survivor, kind: 'merged', before: null, after: { merged_ids: mergedIds, event_id: eventId }, changedAt: at, sequence },
    { customerId: merged, kind: 'merged_into', before: null, after: { survivor_id: survivor, event_id: eventId }, changedAt: at, sequence },
  );
  writes.messages.push(
    buildMessage('customer.merged', { customer_id: survivor, sequence, merged_ids: mergedIds, merged_at: at.toISOString(), event_id: eventId }, now),
  );
  return { outcome: 'merged', survivor, mergedIds };
}

/**
 * Merges in order, all in one transaction under the identity lock, every customers row they touch
 * locked first in id order (lockProfiles), so merges and recomputes never wait for each other in a
 * cycle: a job's aliases apply all or none, a retried job merges nothing twice. Each merge is two
 * statements; the records, history, messages and the survivors' traits are written once for the
 * run. Then recomputes every survivor and nudges the relay.
 */
export async function mergeProfiles(deps: IdentityDeps, requests: readonly MergeRequest[]): Promise<MergeResult[]> {
  // Most aliases a browser sends repeat a link already made (one id per pair, segment.map.ts):
  // those are told apart in one read, without taking the identity lock.
  const recorded = await recordedMerges(deps.db, requests.map((r) => r.eventId));
  const fresh = requests.filter((r) => !recorded.has(r.eventId));
  const merged = new Map<MergeRequest, MergeResult>();
  if (fresh.length > 0) {
    await deps.db.transaction(async (tx) => {
      await lockIdentities(tx, 'exclusive');
      await lockProfiles(tx, fresh.flatMap((r) => [r.customerId, r.previousId]));
      const writes: MergeWrites = { records: [], history: [], messages: [], survivors: new Set(), seen: new Set() };
      for (const request of fresh) merged.set(request, await mergeOne(tx, request, deps.clock.now(), writes));
      // A survivor merged away later in the run has no row left: its traits rebuild is a no-op.
      await mergeTraits(tx, [...writes.survivors], { rowsLocked: true });
      await recordMerges(tx, writes.records);
      await insertHistory(tx, writes.history);
      await insertMessages(tx, writes.messages);
    });
  }
  const results = requests.map((r): MergeResult => merged.get(r) ?? { outcome: 'duplicate' });
  const survivors = results.flatMap((r) => (r.outcome === 'merged' ? [r.survivor] : []));
  if (survivors.length > 0) {
    await enqueueRecomputes(deps, survivors);
    await nudgeRelay(deps.queues.relay);
  }
  return results;
}

/** The alias events of an ingest job as merge requests, in arrival order. */
export const aliasRequests = (events: readonly IngestEvent[]): MergeRequest[] =>
  events
    .filter((e) => e.type === 'alias')
    .map((e) => ({ eventId: e.id, customerId: e.customer_id, previousId: String(e.data.previous_id), at: new Date(e.occurred_at) }));

/**
 * The opt-in merge by trait (IDENTITY_MERGE_TRAITS=email): after `customer` events were stored for
 * `customerIds`, their normalised emails are recorded and every group of profiles sharing one is
 * merged into the survivor chooseSurvivor picks (docs/architecture.md, "Identity"), at `at`.
 */
export async function mergeByEmail(deps: IdentityDeps, customerIds: readonly string[], at: Date): Promise<MergeResult[]> {
  if (!deps.config.IDENTITY_MERGE_TRAITS.includes('email') || customerIds.length === 0) return [];
  const groups = await deps.db.transaction(async (tx) => {
    await lockIdentities(tx, 'exclusive');
    const routed = await survivorsOf(tx, customerIds);
    const ids = [...new Set(customerIds.map((id) => routed.get(id) ?? id))];
    const emails = (await emailTraits(tx, ids)).flatMap(({ id, email }) => {
      const normalised = normaliseEmail(email);
      return normalised ? [{ id, email: normalised }] : [];
    });
    return [...(await replaceEmails(tx, ids, emails)).values()].filter((holders) => holders.length > 1);
  });
  const requests: MergeRequest[] = [];
  for (const holders of groups) {
    const first = await firstEventInstants(deps.db, holders);
    const survivor = chooseSurvivor(holders.map((id) => ({ id, firstEventAt: first.get(id) ?? null }))).id;
    for (const id of holders) {
      if (id !== survivor) requests.push({ eventId: `trait:email:${id}`, customerId: survivor, previousId: id, at });
    }
  }
  return mergeProfiles(deps, requests);
}
