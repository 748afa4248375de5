/**
 * Webhook delivery benchmark (see bench/README.md): the real workers in this process, against a
 * throwaway database and queue prefix, delivering to a fast local receiver. Prints results; writes
 * no files.
 *
 *   npx tsx bench/webhooks.bench.ts                      # 3 rounds × (1, 4 endpoints) × 5,000 messages
 *   BENCH_MESSAGES=2000 BENCH_RUNS=1 npx tsx bench/webhooks.bench.ts
 *   BENCH_ENDPOINTS=1,4,16 BENCH_RELAY_INTERVAL_MS=1000 npx tsx bench/webhooks.bench.ts
 *
 * Path measured: outbox rows in webhook_messages → relay pass (fan-out + claim) → BullMQ `webhooks`
 * queue → delivery worker → signed HTTP POST → attempt and delivery rows in Postgres.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { QueueEvents } from 'bullmq';
import { Agent, request } from 'undici';
import { sql } from 'drizzle-orm';
import { createDeps, type Deps } from '../src/deps.ts';
import { migrateDb } from '../src/store/db.ts';
import { webhookEndpoints, webhookMessages } from '../src/store/schema.ts';
import { startWorkers, type Workers } from '../src/workers/workers.ts';
import { nudgeRelay } from '../src/queues/queues.ts';
import { checkRedisPolicy, waitForRedis } from '../src/queues/redis-policy.ts';
import { ENDPOINT_CONCURRENCY } from '../src/services/relay.service.ts';
import { buildMessage, type WebhookMessage } from '../src/webhooks/messages.ts';
import { generateSecret, sign } from '../src/webhooks/signing.ts';
import {
  NAME, REDIS_URL, benchConfig, checkInterrupted, cleanupStep, createDatabase, dec, handleInterrupts, int, intEnv,
  machine, median, pct, removeThrowaways, runMain, sleep, table,
} from './support.ts';

function intListEnv(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`${name} must be a comma-separated list of positive integers, got "${raw}"`);
  }
  return list;
}

const MESSAGES = intEnv('BENCH_MESSAGES', 5_000);
const RUNS = intEnv('BENCH_RUNS', 3);
/** Scenarios: how many endpoints every message fans out to. */
const ENDPOINT_COUNTS = intListEnv('BENCH_ENDPOINTS', [1, 4]);
/** WEBHOOK_RELAY_INTERVAL_MS for the service under test (the service's own default is 1,000). */
const RELAY_INTERVAL_MS = intEnv('BENCH_RELAY_INTERVAL_MS', 100);
const DELIVERY_TIMEOUT_MS = 300_000;
const POLL_MS = 200;
/** Rows per INSERT statement (5 parameters each, well under Postgres' 65,535). */
const INSERT_CHUNK = 10_000;

/** Small `data`, the same shape for every message (and for the baseline body). */
const sampleData = (n: number) => ({
  customer_id: `c-${n}`,
  sequence: n,
  tier: 'gold',
  previous_tier: 'silver',
  direction: 'up',
  changed_at: '2026-01-01T00:00:00.000Z',
});

// ---------------------------------------------------------------------------------------------
// Interruption: Ctrl-C stops waiting and still drops the database and Redis keys.

handleInterrupts();

// ---------------------------------------------------------------------------------------------
// The receiver: answers 204 as soon as the body has arrived; remembers which ids each endpoint got.

interface Receiver {
  server: Server;
  url: string;
  /** Per endpoint id: webhook-id → times received. */
  hooks: Map<string, Map<string, number>>;
  /** Endpoint secrets, to verify the first signature each endpoint receives. */
  secrets: Map<string, string>;
  verified: Set<string>;
  badSignatures: number;
  baselineRequests: number;
  otherRequests: number;
  reset(): void;
}

async function startReceiver(): Promise<Receiver> {
  const r: Receiver = {
    server: undefined as unknown as Server,
    url: '',
    hooks: new Map(),
    secrets: new Map(),
    verified: new Set(),
    badSignatures: 0,
    baselineRequests: 0,
    otherRequests: 0,
    reset() {
      this.hooks.clear();
      this.secrets.clear();
      this.verified.clear();
      this.badSignatures = 0;
      this.baselineRequests = 0;
      this.otherRequests = 0;
    },
  };
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    const endpointId = path.startsWith('/hook/') ? path.slice('/hook/'.length) : undefined;
    const msgId = req.headers['webhook-id'];
    // Verifying every signature would cost the receiver (same process, same event loop) more than
    // the rest of its work; the first one per endpoint and run shows the pipeline signs correctly.
    const verify = endpointId !== undefined && !r.verified.has(endpointId) ? ([] as Buffer[]) : undefined;
    req.on('data', (chunk: Buffer) => verify?.push(chunk));
    req.on('end', () => {
      res.writeHead(204).end();
      if (path === '/baseline') {
        r.baselineRequests++;
        return;
      }
      if (endpointId === undefined || typeof msgId !== 'string') {
        r.otherRequests++;
        return;
      }
      let ids = r.hooks.get(endpointId);
      if (!ids) r.hooks.set(endpointId, (ids = new Map()));
      ids.set(msgId, (ids.get(msgId) ?? 0) + 1);
      if (verify && !r.verified.has(endpointId)) {
        r.verified.add(endpointId);
        const secret = r.secrets.get(endpointId);
        const timestamp = Number(req.headers['webhook-timestamp']);
        const signatures = String(req.headers['webhook-signature'] ?? '').split(' ');
        const body = Buffer.concat(verify).toString('utf8');
        if (secret === undefined || !Number.isInteger(timestamp) || !signatures.includes(sign(secret, msgId, timestamp, body))) {
          r.badSignatures++;
        }
      }
    });
  };
  r.server = createServer({ keepAliveTimeout: 60_000 }, handle);
  await new Promise<void>((resolve, reject) => {
    r.server.once('error', reject);
    r.server.listen(0, '127.0.0.1', () => resolve());
  });
  r.url = `http://127.0.0.1:${(r.server.address() as AddressInfo).port}`;
  return r;
}

// ---------------------------------------------------------------------------------------------
// Baseline: the same receiver, plain undici POSTs of a same-size body from this process.

interface BaselineResult {
  endpoints: number;
  round: number;
  requests: number;
  seconds: number;
  perSec: number;
  errors: number;
}

async function runBaseline(
  receiver: Receiver,
  body: string,
  requests: number,
  concurrency: number,
  endpoints: number,
  round: number,
): Promise<BaselineResult> {
  checkInterrupted();
  // A fresh pool each time, like the delivery dispatcher's, so no run inherits warm connections.
  const dispatcher = new Agent();
  const url = `${receiver.url}/baseline`;
  const payload = Buffer.from(body, 'utf8');
  let next = 0;
  let errors = 0;
  const before = receiver.baselineRequests;
  const started = performance.now();
  const lane = async () => {
    while (next < requests) {
      next++;
      try {
        const res = await request(url, {
          method: 'POST',
          body: payload,
          headers: { 'content-type': 'application/json', 'webhook-id': `baseline-${next}` },
          dispatcher,
        });
        await res.body.dump();
        if (res.statusCode !== 204) errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const seconds = (performance.now() - started) / 1000;
  await dispatcher.close();
  const received = receiver.baselineRequests - before;
  if (received !== requests) errors += Math.abs(requests - received);
  return { endpoints, round, requests, seconds, perSec: requests / seconds, errors };
}

// ---------------------------------------------------------------------------------------------
// Relay passes, observed through the relay queue's event stream (timestamps are Redis stream ids).

interface RelayPass {
  startMs: number;
  endMs: number;
  fannedOut: number;
  claimed: number;
}

class RelayObserver {
  passes: RelayPass[] = [];
  private active = new Map<string, number>();
  constructor(readonly events: QueueEvents) {
    const ms = (streamId: string) => Number(streamId.split('-')[0]);
    events.on('active', ({ jobId }, id) => this.active.set(jobId, ms(id)));
    events.on('completed', ({ jobId, returnvalue }, id) => {
      const startMs = this.active.get(jobId);
      this.active.delete(jobId);
      if (startMs === undefined) return;
      const value = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as Partial<RelayPass> | null;
      this.passes.push({ startMs, endMs: ms(id), fannedOut: value?.fannedOut ?? 0, claimed: value?.claimed ?? 0 });
    });
  }
  between(fromMs: number, toMs: number): RelayPass[] {
    return this.passes.filter((p) => p.startMs >= fromMs && p.startMs <= toMs);
  }
}

// ---------------------------------------------------------------------------------------------
// One pipeline run: fresh tables, E endpoints, N messages, wait until every delivery succeeded.

interface PipelineResult {
  endpoints: number;
  round: number;
  expected: number;
  succeeded: number;
  failed: number;
  pending: number;
  attempts: number;
  /** Seconds from the outbox insert committing until the last delivery was recorded (undefined: timed out). */
  seconds: number | undefined;
  perSec: number;
  insertMs: number;
  /** Deliveries whose message id never reached the receiver for that endpoint. */
  missing: number;
  /** Requests beyond the first for the same endpoint and message id. */
  duplicates: number;
  unknownIds: number;
  badSignatures: number;
  failedJobs: number;
  relayPasses: number;
  relayPassesPerSec: number;
  relayPassMsP50: number;
  relayPassMsMax: number;
  claimedPerPass: number;
  /** Median time one attempt's HTTP exchange took (webhook_attempts.duration_ms). */
  httpMsP50: number;
  /** BullMQ `webhooks` jobs: median ms from enqueue (relay claim) to a worker taking it, and in the worker. */
  jobWaitMsP50: number;
  jobRunMsP50: number;
  jobRunMsP90: number;
  loopBusy: number;
}

async function runPipeline(deps: Deps, receiver: Receiver, relay: RelayObserver, endpoints: number, round: number): Promise<PipelineResult> {
  checkInterrupted();
  // Fresh tables: previous runs' rows (all finished) would otherwise grow every relay query.
  await deps.db.execute(sql`truncate webhook_attempts, webhook_deliveries, webhook_messages, webhook_endpoints`);
  receiver.reset();
  const endpointRows = Array.from({ length: endpoints }, (_, i) => {
    const id = `ep_bench_${round}_${endpoints}_${i}_${randomBytes(4).toString('hex')}`;
    const secret = generateSecret();
    receiver.secrets.set(id, secret);
    return { id, url: `${receiver.url}/hook/${id}`, events: ['*'], secret };
  });
  await deps.db.insert(webhookEndpoints).values(endpointRows);

  const now = new Date();
  const messages: WebhookMessage[] = Array.from({ length: MESSAGES }, (_, i) => buildMessage('customer.tier_changed', sampleData(i), now));
  const expected = MESSAGES * endpoints;
  const failedBefore = await deps.queues.webhooks.getFailedCount();

  const insertStarted = performance.now();
  await deps.db.transaction(async (tx) => {
    for (let i = 0; i < messages.length; i += INSERT_CHUNK) {
      await tx.insert(webhookMessages).values(messages.slice(i, i + INSERT_CHUNK).map((m) => ({ id: m.id, type: m.type, body: m.body, createdAt: m.createdAt })));
    }
  });
  // The clock starts when the outbox rows become visible to the relay.
  const startedAt = performance.now();
  const startedWall = Date.now();
  const insertMs = startedAt - insertStarted;
  const elu0 = performance.eventLoopUtilization();
  await nudgeRelay(deps.queues.relay);

  let counts = { succeeded: 0, failed: 0, pending: 0 };
  let doneAt: number | undefined;
  const deadline = startedAt + DELIVERY_TIMEOUT_MS;
  for (;;) {
    checkInterrupted();
    const { rows } = await deps.pool.query<{ succeeded: number; failed: number; pending: number }>(
      `select count(*) filter (where status = 'succeeded')::int as succeeded,
              count(*) filter (where status = 'failed')::int as failed,
              count(*) filter (where status = 'pending')::int as pending
       from webhook_deliveries`,
    );
    counts = rows[0]!;
    if (counts.succeeded >= expected || counts.succeeded + counts.failed >= expected) {
      doneAt = performance.now();
      break;
    }
    if (performance.now() > deadline) break;
    await sleep(POLL_MS);
  }
  const loopBusy = performance.eventLoopUtilization(elu0).utilization;
  const seconds = doneAt === undefined ? undefined : (doneAt - startedAt) / 1000;
  const endWall = Date.now();

  // Give in-flight HTTP responses and relay events a moment to land before checking.
  await sleep(300);
  const { rows: attemptRows } = await deps.pool.query<{ attempts: number; p50: number | null }>(
    `select count(*)::int as attempts, percentile_cont(0.5) within group (order by duration_ms)::float8 as p50 from webhook_attempts`,
  );
  const { rows: pairs } = await deps.pool.query<{ endpoint_id: string; message_id: string }>(
    `select endpoint_id, message_id from webhook_deliveries`,
  );
  let missing = expected - pairs.length;
  for (const p of pairs) if (!receiver.hooks.get(p.endpoint_id)?.has(p.message_id)) missing++;
  const messageIds = new Set(messages.map((m) => m.id));
  let duplicates = 0;
  let unknownIds = 0;
  for (const [endpointId, ids] of receiver.hooks) {
    const known = endpointRows.some((e) => e.id === endpointId);
    for (const [id, n] of ids) {
      duplicates += n - 1;
      if (!known || !messageIds.has(id)) unknownIds += n;
    }
  }
  unknownIds += receiver.otherRequests;

  const jobs = await jobTimings(deps);
  const passes = relay.between(startedWall, endWall);
  const passMs = passes.map((p) => p.endMs - p.startMs);
  const windowS = (endWall - startedWall) / 1000;
  return {
    endpoints,
    round,
    expected,
    ...counts,
    attempts: attemptRows[0]!.attempts,
    seconds,
    perSec: seconds === undefined ? Number.NaN : counts.succeeded / seconds,
    insertMs,
    missing,
    duplicates,
    unknownIds,
    badSignatures: receiver.badSignatures + endpointRows.filter((e) => receiver.hooks.has(e.id) && !receiver.verified.has(e.id)).length,
    failedJobs: (await deps.queues.webhooks.getFailedCount()) - failedBefore,
    relayPasses: passes.length,
    relayPassesPerSec: passes.length / windowS,
    relayPassMsP50: median(passMs),
    relayPassMsMax: passMs.length ? Math.max(...passMs) : Number.NaN,
    claimedPerPass: passes.length ? passes.reduce((a, p) => a + p.claimed, 0) / passes.length : Number.NaN,
    httpMsP50: attemptRows[0]!.p50 ?? Number.NaN,
    jobWaitMsP50: median(jobs.wait),
    jobRunMsP50: median(jobs.run),
    jobRunMsP90: quantile(jobs.run, 0.9),
    loopBusy,
  };
}

/** Timings of this run's completed `webhooks` jobs (kept an hour by the queue), then removed. */
async function jobTimings(deps: Deps): Promise<{ wait: number[]; run: number[] }> {
  const queue = deps.queues.webhooks;
  const wait: number[] = [];
  const run: number[] = [];
  const total = await queue.getCompletedCount();
  for (let start = 0; start < total; start += 1_000) {
    for (const job of await queue.getJobs(['completed'], start, start + 999)) {
      if (!job?.processedOn || !job.finishedOn) continue;
      wait.push(job.processedOn - job.timestamp);
      run.push(job.finishedOn - job.processedOn);
    }
  }
  await queue.clean(0, Number.MAX_SAFE_INTEGER, 'completed');
  return { wait, run };
}

// ---------------------------------------------------------------------------------------------
// Reporting.

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}


function progress(b: BaselineResult, p: PipelineResult): void {
  console.log(
    `round ${p.round}/${RUNS} endpoints ${p.endpoints}: baseline ${int(b.perSec)} req/s (${b.seconds.toFixed(2)} s${b.errors ? `, ${b.errors} errors` : ''}),` +
      ` pipeline ${int(p.perSec)} deliveries/s (${p.seconds === undefined ? 'TIMEOUT' : `${p.seconds.toFixed(1)} s`}; ${int(p.succeeded)}/${int(p.expected)} succeeded` +
      (p.failed ? `, ${p.failed} failed` : '') +
      `), ratio ${dec(p.perSec / b.perSec, 3)}` +
      `\n    relay: ${p.relayPasses} passes (${dec(p.relayPassesPerSec, 1)}/s, p50 ${dec(p.relayPassMsP50, 0)} ms, max ${dec(p.relayPassMsMax, 0)} ms), ${dec(p.claimedPerPass, 1)} claimed/pass;` +
      ` HTTP p50 ${dec(p.httpMsP50, 0)} ms; job wait p50 ${dec(p.jobWaitMsP50, 0)} ms, in worker p50 ${dec(p.jobRunMsP50, 0)} ms p90 ${dec(p.jobRunMsP90, 0)} ms; attempts ${int(p.attempts)}; duplicates ${p.duplicates}; missing ${p.missing}; outbox insert ${int(p.insertMs)} ms; loop busy ${pct(p.loopBusy)}`,
  );
}

function report(baselines: BaselineResult[], pipelines: PipelineResult[], concurrency: number): string[] {
  const problems: string[] = [];
  for (const p of pipelines) {
    const at = `${p.endpoints} endpoint(s) round ${p.round}`;
    if (p.seconds === undefined) problems.push(`${at}: only ${p.succeeded} of ${p.expected} deliveries succeeded within ${DELIVERY_TIMEOUT_MS / 1000} s`);
    if (p.failed > 0) problems.push(`${at}: ${p.failed} deliveries failed`);
    if (p.succeeded !== p.expected) problems.push(`${at}: ${p.succeeded} deliveries succeeded, expected ${p.expected}`);
    if (p.missing > 0) problems.push(`${at}: ${p.missing} deliveries never reached the receiver`);
    if (p.unknownIds > 0) problems.push(`${at}: the receiver got ${p.unknownIds} request(s) with an unknown endpoint or message id`);
    if (p.badSignatures > 0) problems.push(`${at}: ${p.badSignatures} endpoint(s) received a signature that does not verify`);
    if (p.failedJobs > 0) problems.push(`${at}: ${p.failedJobs} failed webhooks job(s)`);
  }
  for (const b of baselines) if (b.errors > 0) problems.push(`baseline for ${b.endpoints} endpoint(s) round ${b.round}: ${b.errors} error(s)`);

  const rows = ENDPOINT_COUNTS.map((e) => {
    const ps = pipelines.filter((p) => p.endpoints === e);
    const bs = baselines.filter((b) => b.endpoints === e);
    const timedOut = ps.some((p) => p.seconds === undefined);
    const perSec = timedOut ? Number.NaN : median(ps.map((p) => p.perSec));
    const ratio = timedOut ? Number.NaN : median(ps.map((p) => p.perSec / bs.find((b) => b.round === p.round)!.perSec));
    const passesPerSec = median(ps.map((p) => p.relayPassesPerSec));
    return [
      String(e),
      int(MESSAGES * e),
      timedOut ? 'timeout' : dec(median(ps.map((p) => p.seconds!)), 1),
      int(perSec),
      int(median(bs.map((b) => b.perSec))),
      dec(ratio, 3),
      `${dec(passesPerSec, 1)} (p50 ${dec(median(ps.map((p) => p.relayPassMsP50)), 0)} ms)`,
      dec(median(ps.map((p) => p.claimedPerPass)), 1),
      int(passesPerSec * ENDPOINT_CONCURRENCY * e),
      dec(median(ps.map((p) => p.httpMsP50)), 0),
      `${dec(median(ps.map((p) => p.jobRunMsP50)), 0)} / ${dec(median(ps.map((p) => p.jobRunMsP90)), 0)}`,
      String(ps.reduce((a, p) => a + p.duplicates, 0)),
      `${ps.reduce((a, p) => a + p.succeeded, 0)}/${ps.reduce((a, p) => a + p.expected, 0)}`,
    ];
  });
  console.log(
    `\n## Webhook delivery throughput (median of ${RUNS} run(s), ${int(MESSAGES)} messages per run, relay every ${RELAY_INTERVAL_MS} ms, ` +
      `${concurrency} delivery workers, ≤${ENDPOINT_CONCURRENCY} in flight per endpoint; baseline: undici POSTs, concurrency ${concurrency})\n\n` +
      table(
        [
          'endpoints',
          'deliveries/run',
          'seconds',
          'deliveries/s',
          'baseline req/s',
          'pipeline ÷ baseline',
          'relay passes/s',
          'claimed/pass',
          `ceiling: passes/s × ${ENDPOINT_CONCURRENCY} × endpoints`,
          'HTTP p50 ms',
          'job in worker p50 / p90 ms',
          'duplicates (all runs)',
          'succeeded (all runs)',
        ],
        rows,
      ),
  );
  return problems;
}

async function main(): Promise<number> {
  console.log(
    `Tierwise webhook delivery benchmark — ${machine()}\n` +
      `${RUNS} round(s) × endpoints [${ENDPOINT_COUNTS.join(', ')}], ${int(MESSAGES)} messages each; database and queue prefix ${NAME}\n`,
  );
  await createDatabase();
  let deps: Deps | undefined;
  let workers: Workers | undefined;
  let receiver: Receiver | undefined;
  let events: QueueEvents | undefined;
  let eventsConnection: Redis | undefined;
  try {
    const config = benchConfig({
      WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
      WEBHOOK_RELAY_INTERVAL_MS: RELAY_INTERVAL_MS,
    });
    deps = createDeps(config);
    await migrateDb(deps.db);
    await waitForRedis(deps.redis);
    await checkRedisPolicy(deps.redis);
    receiver = await startReceiver();
    eventsConnection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    events = new QueueEvents('relay', { connection: eventsConnection, prefix: NAME });
    await events.waitUntilReady();
    const relay = new RelayObserver(events);
    workers = await startWorkers(deps);

    const baselineBody = buildMessage('customer.tier_changed', sampleData(MESSAGES), new Date()).body;
    // Warm-up (discarded): JIT and the receiver's first connections, so round 1's baseline is comparable.
    await runBaseline(receiver, baselineBody, 2_000, config.WEBHOOK_CONCURRENCY, 0, 0);
    const baselines: BaselineResult[] = [];
    const pipelines: PipelineResult[] = [];
    // Rounds interleave the scenarios, and each pipeline run has its own baseline just before it.
    for (let round = 1; round <= RUNS; round++) {
      for (const endpoints of ENDPOINT_COUNTS) {
        const b = await runBaseline(receiver, baselineBody, MESSAGES * endpoints, config.WEBHOOK_CONCURRENCY, endpoints, round);
        const p = await runPipeline(deps, receiver, relay, endpoints, round);
        baselines.push(b);
        pipelines.push(p);
        progress(b, p);
      }
    }

    const problems = report(baselines, pipelines, config.WEBHOOK_CONCURRENCY);
    if (problems.length > 0) {
      console.log(`\nINVALID RUN:\n- ${problems.join('\n- ')}`);
      return 1;
    }
    const dup = pipelines.reduce((a, p) => a + p.duplicates, 0);
    console.log(`\nEvery delivery succeeded and every message id reached its endpoint(s); ${dup} duplicate request(s).`);
    return 0;
  } finally {
    await cleanupStep('closing the workers', async () => workers?.close());
    await cleanupStep('closing the relay event listener', async () => {
      await events?.close();
      eventsConnection?.disconnect();
    });
    await cleanupStep('closing the receiver', async () => {
      const server = receiver?.server;
      if (!server) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    await cleanupStep('closing pools', async () => deps?.close());
    await removeThrowaways();
  }
}

runMain(main);
