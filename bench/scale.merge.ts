/**
 * The merge figures of the scale benchmark (docs/architecture.md, Identity), in the shop's
 * database under ids of their own (`mb…`), through the use cases the ingest worker runs:
 *
 * - merges/s: pairs of profiles (a known id and an `anon:` one, 3 orders each) merged by
 *   mergeProfiles in runs of 500 (one transaction each, as the aliases import applies them);
 * - ingest without merges: 1,000-event jobs of orders for unmerged customers, stored by storeEvents;
 * - ingest with merges routed: the same jobs addressed to merged ids, each event routed to its survivor;
 * - ingest with merges in the stream: the same jobs with 1% alias events merging new guests.
 *
 * The three ingest figures alternate within each run, so they meet the same machine and table sizes.
 */
import { performance } from 'node:perf_hooks';
import type { Deps } from '../src/deps.ts';
import type { IngestEvent } from '../src/domain/events/events.types.ts';
import { mergeProfiles } from '../src/services/identity.service.ts';
import { storeEvents } from '../src/services/ingest.service.ts';
import { intEnv } from './support.ts';

export interface MergeFigures {
  pairs: number;
  mergesPerSec: number;
  plainEventsPerSec: number;
  routedEventsPerSec: number;
  mixedEventsPerSec: number;
}

const JOB_EVENTS = 1_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export async function measureMerges(deps: Deps, runs: number, log: (line: string) => void): Promise<MergeFigures> {
  const pairs = intEnv('BENCH_MERGE_PAIRS', 2_000);
  const jobs = intEnv('BENCH_MERGE_JOBS', 10);
  let seq = 0;
  const occurredAt = new Date(deps.clock.now().getTime() - 86_400_000).toISOString();
  const order = (customer: string): IngestEvent => {
    const n = seq++;
    return { id: `mb-e${n}`, type: 'order', customer_id: customer, occurred_at: occurredAt, order_id: `mb-o${n}`, data: { order_id: `mb-o${n}`, amount: '12.34' }, properties: null };
  };
  const alias = (customer: string, previous: string): IngestEvent => ({
    id: `mb-a${seq++}`, type: 'alias', customer_id: customer, occurred_at: occurredAt, order_id: null, data: { previous_id: previous }, properties: null,
  });
  const store = async (events: IngestEvent[]) => {
    for (let i = 0; i < events.length; i += JOB_EVENTS) await storeEvents(deps, { events: events.slice(i, i + JOB_EVENTS), receivedAt: new Date().toISOString() });
  };
  const eventsPerSec = async (make: () => IngestEvent[]) => {
    const batches = Array.from({ length: jobs }, make);
    const t0 = performance.now();
    for (const events of batches) await storeEvents(deps, { events, receivedAt: new Date().toISOString() });
    return (jobs * JOB_EVENTS) / ((performance.now() - t0) / 1000);
  };

  const merges: number[] = [];
  const plain: number[] = [];
  const routed: number[] = [];
  const mixed: number[] = [];
  for (let run = 0; run < runs; run++) {
    const known = Array.from({ length: pairs }, (_, i) => `mb${run}-k${i}`);
    const guests = Array.from({ length: pairs }, (_, i) => `anon:mb${run}-g${i}`);
    await store([...known, ...guests].flatMap((id) => [order(id), order(id), order(id)]));
    const requests = known.map((k, i) => ({ eventId: `mb${run}-merge${i}`, customerId: k, previousId: guests[i]!, at: new Date(occurredAt) }));
    const t0 = performance.now();
    // In runs of 500, as `tierwise import --format aliases` applies them.
    for (let i = 0; i < requests.length; i += 500) await mergeProfiles(deps, requests.slice(i, i + 500));
    merges.push(pairs / ((performance.now() - t0) / 1000));

    const pick = (ids: string[]) => ids[Math.floor(Math.random() * ids.length)]!;
    plain.push(await eventsPerSec(() => Array.from({ length: JOB_EVENTS }, () => order(pick(known)))));
    routed.push(await eventsPerSec(() => Array.from({ length: JOB_EVENTS }, () => order(pick(guests)))));
    let fresh = 0;
    mixed.push(
      await eventsPerSec(() =>
        Array.from({ length: JOB_EVENTS }, (_, i) => {
          const guest = `anon:mb${run}-new${fresh}`;
          if (i % 100 === 99) return alias(pick(known), `anon:mb${run}-new${fresh++}`);
          return order(i % 100 === 98 ? guest : pick(known));
        }),
      ),
    );
    log(`merge run ${run + 1}: ${merges.at(-1)!.toFixed(0)} merges/s; ingest ${plain.at(-1)!.toFixed(0)} events/s without merges, ` +
      `${routed.at(-1)!.toFixed(0)} events/s routed to survivors, ${mixed.at(-1)!.toFixed(0)} events/s with 1% aliases`);
  }
  return { pairs, mergesPerSec: median(merges), plainEventsPerSec: median(plain), routedEventsPerSec: median(routed), mixedEventsPerSec: median(mixed) };
}
