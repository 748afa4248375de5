/** Ingest over HTTP (single, batch, vs a bare Fastify endpoint) and end to end through the worker process. */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { sql } from 'drizzle-orm';
import type { Deps } from '../src/deps.ts';
import { checkInterrupted, median, sleep } from './support.ts';
import { dirtyKeys, RECOMPUTE_SHARDS } from '../src/queues/recompute.dirty.ts';
import { waitForRecomputes } from './scale.rescore.ts';

const RUN = randomBytes(3).toString('hex');
let seq = 0;

/** A unique order for one of the shop's customers (so each recompute reads a real history). */
export function orderEvent(customers: number, customer = 1 + Math.floor(Math.random() * customers)): string {
  const n = seq++;
  const id = `cus-${String(customer).padStart(8, '0')}`;
  return `{"id":"b-${RUN}-${n}","type":"order","customer_id":"${id}","occurred_at":"${new Date().toISOString()}","order_id":"b-${RUN}-${n}","amount":"42.50","channel":"online"}`;
}

export function batchBody(customers: number, size: number): string {
  const events = new Array<string>(size);
  for (let i = 0; i < size; i++) events[i] = orderEvent(customers);
  return `{"events":[${events.join(',')}]}`;
}

export interface Load {
  reqPerSec: number;
  eventsPerSec: number;
  accepted: number;
  bad: number;
  p50: number;
  p99: number;
  startMs: number;
}

export async function runLoad(options: {
  url: string;
  key?: string;
  seconds: number;
  connections: number;
  body: () => string;
  eventsPerRequest: number;
  overallRate?: number;
}): Promise<Load> {
  const startMs = performance.now();
  const result = await autocannon({
    url: options.url,
    method: 'POST',
    connections: options.connections,
    duration: options.seconds,
    headers: { 'content-type': 'application/json', ...(options.key ? { authorization: `Bearer ${options.key}` } : {}) },
    requests: [{ setupRequest: (req) => ({ ...req, body: options.body() }) }],
    ...(options.overallRate ? { overallRate: options.overallRate } : {}),
  });
  const ok = result.statusCodeStats['202']?.count ?? 0;
  const seconds = result.duration;
  return {
    reqPerSec: ok / seconds,
    eventsPerSec: (ok * options.eventsPerRequest) / seconds,
    accepted: ok * options.eventsPerRequest,
    bad: result.non2xx + result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    startMs,
  };
}

export const storedEvents = async (deps: Deps) =>
  (await deps.db.execute<{ n: number }>(sql`select count(*)::int as n from events`)).rows[0]!.n;

/** Waits until `target` events are stored; returns the instant (performance.now()) it happened. */
export async function waitStored(deps: Deps, target: number, timeoutMs = 300_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await storedEvents(deps)) >= target) return performance.now();
    if (Date.now() > deadline) throw new Error(`fewer than ${target} events stored in time`);
    checkInterrupted();
    await sleep(25);
  }
}

/** Waits until the ingest queue has nothing waiting or running. */
export async function waitIngestIdle(deps: Deps, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await deps.queues.ingest.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (Object.values(counts).every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error('ingest queue did not drain in time');
    checkInterrupted();
    await sleep(50);
  }
}

export interface EndToEnd {
  acceptedPerSec: number;
  storedPerSec: number;
  customersRecomputedPerSec: number;
  customersRecomputed: number;
  /** Events stored within the window. */
  stored: number;
  /** Accepted events not yet stored when the window closed. */
  backlogEvents: number;
}

/**
 * Batch load as fast as the API takes it for `seconds`, then up to `drainCapS` more for the worker:
 * stored events/s and distinct customers recomputed/s are counted over that whole window (so a
 * worker slower than the API shows as a lower figure, not as a longer benchmark).
 */
export async function measureEndToEnd(deps: Deps, url: string, key: string, customers: number, seconds: number, drainCapS = 30): Promise<EndToEnd> {
  const before = await storedEvents(deps);
  const since = new Date();
  const load = await runLoad({ url, key, seconds, connections: 8, body: () => batchBody(customers, 500), eventsPerRequest: 500 });
  if (load.bad > 0) throw new Error(`end-to-end load: ${load.bad} failed requests`);
  const capAt = performance.now() + drainCapS * 1000;
  let stored = 0;
  while (performance.now() < capAt) {
    stored = (await storedEvents(deps)) - before;
    if (stored >= load.accepted) break;
    await sleep(50);
  }
  const storedAt = performance.now();
  while (performance.now() < capAt) {
    const counts = await deps.queues.recompute.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (stored >= load.accepted && Object.values(counts).every((n) => n === 0)) break;
    await sleep(50);
  }
  const recomputedAt = performance.now();
  const recomputed = (await deps.db.execute<{ n: number }>(sql`select count(*)::int as n from customers where computed_at >= ${since}`)).rows[0]!.n;
  return {
    acceptedPerSec: load.eventsPerSec,
    storedPerSec: stored / ((storedAt - load.startMs) / 1000),
    customersRecomputedPerSec: recomputed / ((recomputedAt - load.startMs) / 1000),
    customersRecomputed: recomputed,
    stored,
    backlogEvents: Math.max(0, load.accepted - stored),
  };
}

/**
 * Drops what is still queued (ingest jobs, waiting recomputes) so the next measurement starts idle.
 * The recompute queue is not obliterated: a drain removed while running would leave its
 * deduplication key behind and block its shard's next drain. With the shards emptied, every drain
 * ends at its next batch; wait for that (waitForRecomputes) once the workers run.
 */
export async function discardBacklog(deps: Deps): Promise<void> {
  await deps.queues.ingest.obliterate({ force: true });
  const keys: string[] = [];
  for (let shard = 0; shard < RECOMPUTE_SHARDS; shard++) {
    const k = dirtyKeys(deps.config.QUEUE_PREFIX, shard);
    keys.push(k.order, k.counts);
  }
  await deps.redis.del(...keys);
}

const outboxPending = async (deps: Deps) =>
  (await deps.db.execute<{ n: number }>(sql`select count(*)::int as n from webhook_messages where fanned_out_at is null`)).rows[0]!.n;

/**
 * Waits until what earlier parts left for the workers is done, so a latency round measures its own
 * load only: ingest jobs, recomputes (queued and dirty), outbox messages the relay has not fanned
 * out (a recompute writes one per change, README "Scores, tiers and lifecycle"), webhook deliveries and
 * maintenance jobs. Returns the seconds waited (and on what) and the outbox messages pending at the start.
 */
export async function waitDrained(deps: Deps, timeoutMs = 1_800_000): Promise<{ seconds: number; outbox: number; steps: string }> {
  const t0 = performance.now();
  const deadline = Date.now() + timeoutMs;
  const outbox = await outboxPending(deps);
  await waitIngestIdle(deps, timeoutMs);
  const ingested = performance.now();
  await waitForRecomputes(deps, timeoutMs);
  const recomputed = performance.now();
  for (;;) {
    const jobs = await Promise.all([deps.queues.webhooks, deps.queues.maintenance].map((q) => q.getJobCounts('waiting', 'active', 'prioritized')));
    if (jobs.every((counts) => Object.values(counts).every((n) => n === 0)) && (await outboxPending(deps)) === 0) break;
    if (Date.now() > deadline) throw new Error('earlier parts\' queues did not drain in time');
    checkInterrupted();
    await sleep(200);
  }
  const end = performance.now();
  const steps = `ingest ${((ingested - t0) / 1000).toFixed(1)} s, recomputes ${((recomputed - ingested) / 1000).toFixed(1)} s, outbox and webhook and maintenance jobs ${((end - recomputed) / 1000).toFixed(1)} s`;
  return { seconds: (end - t0) / 1000, outbox, steps };
}

/** Checkpoints Postgres has begun so far (timed and requested), to tell a round that one landed in. */
const checkpoints = async (deps: Deps) =>
  (await deps.db.execute<{ n: number }>(sql`select (checkpoints_timed + checkpoints_req)::int as n from pg_stat_bgwriter`)).rows[0]!.n;

/**
 * Event → state latency under a paced background load of `rate` events/s: probes POST one order
 * for a fresh customer every 50 ms and Postgres is polled until that customer's state is written.
 */
export async function measureLatency(deps: Deps, url: string, key: string, customers: number, rate: number, seconds: number) {
  const checkpointsBefore = await checkpoints(deps);
  const background = runLoad({
    url: `${url}/v1/events/batch`, key, seconds, connections: 4, overallRate: rate / 50,
    body: () => batchBody(customers, 50), eventsPerRequest: 50,
  });
  const pending = new Map<string, number>();
  const latencies: number[] = [];
  let probes = 0;
  const end = performance.now() + seconds * 1000 - 1_000;
  const poll = (async () => {
    while (performance.now() < end + 5_000 && (performance.now() < end || pending.size > 0)) {
      if (pending.size > 0) {
        const ids = [...pending.keys()];
        const seen = await deps.db.execute<{ id: string }>(sql`select id from customers where id = any(${sql.param(ids)}) and order_count > 0`);
        const now = performance.now();
        for (const { id } of seen.rows) {
          latencies.push(now - pending.get(id)!);
          pending.delete(id);
        }
      }
      await sleep(2);
    }
  })();
  poll.catch(() => {}); // awaited below; this only keeps an early failure from crashing the process first
  while (performance.now() < end) {
    const id = `probe-${RUN}-${probes++}`;
    const body = `{"id":"${id}","type":"order","customer_id":"${id}","occurred_at":"${new Date().toISOString()}","order_id":"${id}","amount":"10.00"}`;
    const t0 = performance.now();
    void fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body }).then(
      (res) => {
        if (res.status === 202) pending.set(id, t0);
      },
    );
    await sleep(50);
  }
  const [load] = await Promise.all([background, poll]);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    probes,
    seen: latencies.length,
    p50: median(latencies),
    p99: sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? Number.NaN,
    backgroundEventsPerSec: load.eventsPerSec,
    checkpoints: (await checkpoints(deps)) - checkpointsBefore,
  };
}

export interface Acceptance {
  noop: Load;
  single: Load;
  batch: Load;
}

/**
 * One round of the acceptance figures, each next to the bare Fastify no-op of the same round:
 * single events on 20 connections, then 1,000-event batches on 8. What the API accepted is
 * discarded unstored afterwards (the caller keeps the worker paused meanwhile).
 */
export async function measureAcceptance(deps: Deps, urls: { api: string; noop: string }, key: string, customers: number, seconds: number): Promise<Acceptance> {
  const connections = 20;
  const noop = await runLoad({ url: `${urls.noop}/noop`, seconds, connections, body: () => orderEvent(customers), eventsPerRequest: 1 });
  const single = await runLoad({ url: `${urls.api}/v1/events`, key, seconds, connections, body: () => orderEvent(customers), eventsPerRequest: 1 });
  const batch = await runLoad({ url: `${urls.api}/v1/events/batch`, key, seconds, connections: 8, body: () => batchBody(customers, 1_000), eventsPerRequest: 1_000 });
  await discardBacklog(deps);
  if (single.bad + batch.bad + noop.bad > 0) throw new Error(`acceptance: ${single.bad + batch.bad + noop.bad} failed requests`);
  return { noop, single, batch };
}
