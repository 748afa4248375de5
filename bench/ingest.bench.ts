/**
 * Ingest benchmark (see bench/README.md): the real API and workers in this process, against a
 * throwaway database and queue prefix, loaded with autocannon. Prints results; writes no files.
 *
 *   npm run bench                       # 3 rounds × (baseline, single, batch) × 10 s
 *   BENCH_SECONDS=5 BENCH_RUNS=1 npm run bench
 */
import { randomBytes } from 'node:crypto';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { FastifyInstance } from 'fastify';
import type { Counter } from 'prom-client';
import { createDeps, type Deps } from '../src/deps.ts';
import { buildApp } from '../src/http/app.ts';
import { migrateDb } from '../src/store/db.ts';
import { startWorkers, type Workers } from '../src/workers/workers.ts';
import { checkRedisPolicy, waitForRedis } from '../src/queues/redis-policy.ts';
import {
  NAME, benchConfig, checkInterrupted, cleanupStep, createDatabase, dec, handleInterrupts, int, intEnv, listenLocal,
  machine, median, pct, removeThrowaways, runMain, sleep, table,
} from './support.ts';

const SECONDS = intEnv('BENCH_SECONDS', 10);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 20);
const RUNS = intEnv('BENCH_RUNS', 3);
const BATCH_SIZE = 100;
const CUSTOMERS = 10_000;
const DRAIN_TIMEOUT_MS = 120_000;
/** Recomputes are waited for too (so the next run starts idle), but longer and as a warning only. */
const SETTLE_TIMEOUT_MS = 300_000;
const POLL_MS = 100;
const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;

// ---------------------------------------------------------------------------------------------
// Request bodies: every event id (and order id) is unique across the whole benchmark.

let seq = 0;

function orderEvent(): string {
  const n = seq++;
  const customer = Math.floor(Math.random() * CUSTOMERS);
  return `{"id":"e-${n}","type":"order","customer_id":"c-${customer}","occurred_at":"2026-01-01T00:00:00Z","order_id":"o-${n}","amount":"12.34"}`;
}

function batchBody(): string {
  const events = new Array<string>(BATCH_SIZE);
  for (let i = 0; i < BATCH_SIZE; i++) events[i] = orderEvent();
  return `{"events":[${events.join(',')}]}`;
}

interface Scenario {
  name: 'baseline' | 'single' | 'batch';
  method: 'GET' | 'POST';
  path: string;
  expectStatus: number;
  eventsPerRequest: number;
  body?: () => string;
}

const SCENARIOS: Scenario[] = [
  { name: 'baseline', method: 'GET', path: '/healthz', expectStatus: 200, eventsPerRequest: 0 },
  { name: 'single', method: 'POST', path: '/v1/events', expectStatus: 202, eventsPerRequest: 1, body: orderEvent },
  { name: 'batch', method: 'POST', path: '/v1/events/batch', expectStatus: 202, eventsPerRequest: BATCH_SIZE, body: batchBody },
];

// ---------------------------------------------------------------------------------------------
// Interruption: Ctrl-C stops the running load and still drops the database and Redis keys.

let running: autocannon.Instance | undefined;
handleInterrupts(() => running?.stop());

// ---------------------------------------------------------------------------------------------
// One load run.

interface LoadResult {
  scenario: Scenario['name'];
  round: number;
  startMs: number;
  endMs: number;
  durationS: number;
  responses: number;
  reqPerSec: number;
  eventsPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  /** Responses whose status is not the expected one (200 for the baseline, 202 otherwise). */
  unexpected: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /** Share of the wall time this process's event loop was busy (API, workers and load generator). */
  loopBusy: number;
  /** Share of the wall time spent building request bodies in setupRequest (same event loop). */
  generatorShare: number;
}

async function runLoad(baseUrl: string, scenario: Scenario, round: number): Promise<LoadResult> {
  checkInterrupted();
  let generatorMs = 0;
  const options: autocannon.Options = {
    url: `${baseUrl}${scenario.path}`,
    method: scenario.method,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers:
      scenario.method === 'POST' ? { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' } : {},
  };
  const makeBody = scenario.body;
  if (makeBody) {
    options.requests = [
      {
        setupRequest(request) {
          const t0 = performance.now();
          request.body = makeBody();
          generatorMs += performance.now() - t0;
          return request;
        },
      },
    ];
  }
  const elu0: EventLoopUtilization = performance.eventLoopUtilization();
  const instance = autocannon(options);
  running = instance;
  const r = await instance;
  running = undefined;
  const elu = performance.eventLoopUtilization(elu0);

  const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, { count }]) => [code, count]));
  const responses = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const expected = statusCodes[String(scenario.expectStatus)] ?? 0;
  const reqPerSec = responses / r.duration;
  return {
    scenario: scenario.name,
    round,
    startMs: r.start.getTime(),
    endMs: r.finish.getTime(),
    durationS: r.duration,
    responses,
    reqPerSec,
    eventsPerSec: (expected / r.duration) * scenario.eventsPerRequest,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    unexpected: responses - expected,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    loopBusy: elu.utilization,
    generatorShare: generatorMs / (r.duration * 1000),
  };
}

// ---------------------------------------------------------------------------------------------
// Drain: how long the workers need, after the load ends, to store what the API accepted.

async function counterValue(counter: Counter): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}

async function queueIdle(queue: Deps['queues'][keyof Deps['queues']]): Promise<boolean> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
  return Object.values(counts).every((n) => n === 0);
}

interface DrainResult {
  scenario: Scenario['name'];
  round: number;
  /** Events the API accepted during this run (server-side counter, includes requests in flight at the end). */
  accepted: number;
  /** Of those, stored by the workers before the load ended. */
  storedDuringLoad: number;
  /** Seconds from the end of the load until every accepted event was stored (undefined: timed out). */
  drainS: number | undefined;
  /** accepted / (load start → last event stored). */
  endToEndPerSec: number | undefined;
  /** Seconds from the end of the load until the recompute queue was empty (undefined: timed out). */
  recomputeSettledS: number | undefined;
  /** Share of the drain time this process's event loop was busy (low: the workers wait on Postgres/Redis). */
  drainLoopBusy: number;
  /** `select count(*) from events` minus the cumulative accepted count once drained (0 expected). */
  tableMismatch: number;
  failedJobs: number;
}

interface Marks {
  accepted: number;
  stored: number;
}

async function marks(deps: Deps): Promise<Marks> {
  return { accepted: await counterValue(deps.metrics.eventsAccepted), stored: await counterValue(deps.metrics.eventsStored) };
}

async function drain(deps: Deps, load: LoadResult, before: Marks, atLoadEnd: Marks): Promise<DrainResult> {
  // Poll the in-process "stored" counter (cheap; incremented after each ingest transaction commits)
  // rather than count(*) on a growing table, which would itself load the 2 cores; the table is
  // checked once at the end.
  const deadline = load.endMs + DRAIN_TIMEOUT_MS;
  const elu0 = performance.eventLoopUtilization();
  let storedAtMs: number | undefined;
  let lastStored = -1;
  let idleSince: number | undefined;
  for (;;) {
    checkInterrupted();
    const now = await marks(deps);
    if (now.stored >= now.accepted && (await queueIdle(deps.queues.ingest))) {
      storedAtMs = Date.now();
      break;
    }
    // Nothing left to run but the counts disagree (e.g. duplicates): stop waiting, report it.
    if (now.stored === lastStored && (await queueIdle(deps.queues.ingest))) {
      idleSince ??= Date.now();
      if (Date.now() - idleSince > 2_000) break;
    } else idleSince = undefined;
    lastStored = now.stored;
    if (Date.now() > deadline) break;
    await sleep(POLL_MS);
  }
  const drainLoopBusy = performance.eventLoopUtilization(elu0).utilization;
  const after = await marks(deps);
  const inTable = (await deps.pool.query<{ n: number }>('select count(*)::int as n from events')).rows[0]!.n;

  let recomputeSettledAt: number | undefined;
  for (;;) {
    checkInterrupted();
    if (await queueIdle(deps.queues.recompute)) {
      recomputeSettledAt = Date.now();
      break;
    }
    if (Date.now() > load.endMs + SETTLE_TIMEOUT_MS) break;
    await sleep(POLL_MS * 2);
  }
  const failedJobs = (await deps.queues.ingest.getFailedCount()) + (await deps.queues.recompute.getFailedCount());

  const accepted = after.accepted - before.accepted;
  return {
    scenario: load.scenario,
    round: load.round,
    accepted,
    storedDuringLoad: atLoadEnd.stored - before.stored,
    drainS: storedAtMs === undefined ? undefined : Math.max(0, storedAtMs - load.endMs) / 1000,
    endToEndPerSec: storedAtMs === undefined ? undefined : accepted / ((storedAtMs - load.startMs) / 1000),
    recomputeSettledS: recomputeSettledAt === undefined ? undefined : (recomputeSettledAt - load.endMs) / 1000,
    drainLoopBusy,
    tableMismatch: inTable - after.accepted,
    failedJobs,
  };
}

// ---------------------------------------------------------------------------------------------
// Reporting.

const seconds = (n: number | undefined) => (n === undefined ? 'timeout' : n.toFixed(1));

function progress(load: LoadResult, d?: DrainResult): void {
  const codes = Object.entries(load.statusCodes).map(([c, n]) => `${c}×${n}`).join(' ');
  let text =
    `round ${load.round}/${RUNS} ${load.scenario.padEnd(8)} ${int(load.reqPerSec).padStart(7)} req/s` +
    (load.eventsPerSec > 0 ? ` ${int(load.eventsPerSec).padStart(7)} events/s` : '') +
    `  p50 ${load.p50} ms  p99 ${load.p99} ms  [${codes}]` +
    (load.errors ? `  errors ${load.errors} (timeouts ${load.timeouts})` : '') +
    `  loop busy ${pct(load.loopBusy)}` +
    (load.generatorShare > 0 ? ` (bodies ${pct(load.generatorShare)})` : '');
  if (d) {
    text +=
      `\n    accepted ${int(d.accepted)}, stored during load ${int(d.storedDuringLoad)}, drained ${seconds(d.drainS)} s after (loop busy ${pct(d.drainLoopBusy)}),` +
      ` end-to-end ${int(d.endToEndPerSec ?? Number.NaN)} stored events/s, recomputes settled ${seconds(d.recomputeSettledS)} s after` +
      (d.tableMismatch !== 0 ? `, TABLE MISMATCH ${d.tableMismatch}` : '') +
      (d.failedJobs ? `, failed jobs ${d.failedJobs}` : '');
  }
  console.log(text);
}

function report(loads: LoadResult[], drains: DrainResult[]): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const of = (name: string) => loads.filter((l) => l.scenario === name);
  const baseline = median(of('baseline').map((l) => l.reqPerSec));

  const rows = SCENARIOS.map((s) => {
    const runs = of(s.name);
    const rps = median(runs.map((l) => l.reqPerSec));
    const eps = median(runs.map((l) => l.eventsPerSec));
    const non2xx = runs.reduce((a, l) => a + l.non2xx, 0);
    const unexpected = runs.reduce((a, l) => a + l.unexpected, 0);
    const errors = runs.reduce((a, l) => a + l.errors, 0);
    if (unexpected > 0) {
      const codes = runs.flatMap((l) => Object.entries(l.statusCodes).filter(([c]) => c !== String(s.expectStatus)));
      problems.push(`${s.name}: ${unexpected} response(s) not ${s.expectStatus}: ${codes.map(([c, n]) => `${c}×${n}`).join(', ')}`);
    }
    if (errors > 0) problems.push(`${s.name}: ${errors} connection error(s)/timeout(s)`);
    return [
      s.name === 'baseline' ? 'baseline (GET /healthz)' : s.name === 'single' ? 'single (POST /v1/events)' : `batch ×${BATCH_SIZE} (POST /v1/events/batch)`,
      int(rps),
      s.eventsPerRequest ? int(eps) : '–',
      dec(rps / baseline, 3),
      s.eventsPerRequest ? dec(eps / baseline, 2) : '–',
      dec(median(runs.map((l) => l.p50)), 1),
      dec(median(runs.map((l) => l.p99)), 1),
      String(non2xx) + (errors ? ` (+${errors} errors)` : ''),
      pct(median(runs.map((l) => l.loopBusy))),
    ];
  });
  console.log(
    `\n## Ingest throughput (median of ${RUNS} run(s), ${SECONDS} s each, ${CONNECTIONS} connections)\n\n` +
      table(
        ['scenario', 'req/s', 'events/s', 'req/s ÷ baseline', 'events/s ÷ baseline req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'loop busy'],
        rows,
      ),
  );

  const drainRows = SCENARIOS.filter((s) => s.eventsPerRequest > 0).map((s) => {
    const ds = drains.filter((d) => d.scenario === s.name);
    const ingest = median(of(s.name).map((l) => l.eventsPerSec));
    for (const d of ds) {
      if (d.drainS === undefined) problems.push(`${s.name} round ${d.round}: not drained within ${DRAIN_TIMEOUT_MS / 1000} s`);
      if (d.tableMismatch !== 0) problems.push(`${s.name} round ${d.round}: events table holds ${d.tableMismatch} more/less than accepted`);
      if (d.failedJobs) problems.push(`${s.name} round ${d.round}: ${d.failedJobs} failed job(s)`);
      if (d.recomputeSettledS === undefined) {
        warnings.push(`${s.name} round ${d.round}: recompute queue not empty ${SETTLE_TIMEOUT_MS / 1000} s after the load; later runs shared the machine with it`);
      }
    }
    const timedOut = (pick: (d: DrainResult) => number | undefined) =>
      ds.some((d) => pick(d) === undefined) ? Number.NaN : median(ds.map((d) => pick(d)!));
    const e2e = timedOut((d) => d.endToEndPerSec);
    const storedDuringLoad = median(ds.map((d) => d.storedDuringLoad / d.accepted));
    return [
      s.name,
      int(median(ds.map((d) => d.accepted))),
      pct(storedDuringLoad),
      dec(timedOut((d) => d.drainS), 1),
      int(e2e),
      dec(e2e / ingest, 2),
      dec(e2e / baseline, 2),
      pct(median(ds.map((d) => d.drainLoopBusy))),
      dec(timedOut((d) => d.recomputeSettledS), 1),
    ];
  });
  console.log(
    `\n## Worker drain (median; timeouts ${DRAIN_TIMEOUT_MS / 1000} s to store, ${SETTLE_TIMEOUT_MS / 1000} s for recomputes; n/a = a run timed out)\n\n` +
      table(
        [
          'scenario',
          'events accepted',
          'stored by load end',
          'drain s after load',
          'end-to-end stored events/s',
          'e2e ÷ ingest events/s',
          'e2e ÷ baseline req/s',
          'loop busy while draining',
          'recomputes settled s after load',
        ],
        drainRows,
      ),
  );
  return { problems, warnings };
}

async function main(): Promise<number> {
  console.log(
    `Tierwise ingest benchmark — ${machine()}\n` +
      `${RUNS} round(s) × (baseline, single, batch), ${SECONDS} s each, ${CONNECTIONS} connections; database and queue prefix ${NAME}\n`,
  );
  await createDatabase();
  let deps: Deps | undefined;
  let app: FastifyInstance | undefined;
  let workers: Workers | undefined;
  try {
    const config = benchConfig({
      TIERWISE_ADMIN_KEY: ADMIN_KEY,
      RATE_LIMIT_MAX: 1_000_000,
      INGEST_MAX_WAITING: 1_000_000,
    });
    deps = createDeps(config);
    await migrateDb(deps.db);
    await waitForRedis(deps.redis);
    await checkRedisPolicy(deps.redis);
    app = await buildApp(deps);
    workers = await startWorkers(deps);
    const baseUrl = await listenLocal(app);

    const loads: LoadResult[] = [];
    const drains: DrainResult[] = [];
    // Rounds interleave the scenarios, so slow drift of a shared machine hits all of them alike.
    for (let round = 1; round <= RUNS; round++) {
      for (const scenario of SCENARIOS) {
        const before = await marks(deps);
        const load = await runLoad(baseUrl, scenario, round);
        const atLoadEnd = await marks(deps);
        loads.push(load);
        if (scenario.eventsPerRequest === 0) {
          progress(load);
          continue;
        }
        const d = await drain(deps, load, before, atLoadEnd);
        drains.push(d);
        progress(load, d);
      }
    }

    const { problems, warnings } = report(loads, drains);
    const bodyShare = (name: string) => pct(median(loads.filter((l) => l.scenario === name).map((l) => l.generatorShare)));
    console.log(
      `\nLoad generator, API and workers share this process's one event loop ("loop busy"); building request` +
        ` bodies took ${bodyShare('single')} of it during single and ${bodyShare('batch')} during batch.`,
    );
    if (warnings.length > 0) console.log(`\nWarnings:\n- ${warnings.join('\n- ')}`);
    if (problems.length > 0) {
      console.log(`\nINVALID RUN:\n- ${problems.join('\n- ')}`);
      return 1;
    }
    console.log('\nAll responses as expected; every accepted event stored.');
    return 0;
  } finally {
    await cleanupStep('closing the API', async () => app?.close());
    await cleanupStep('closing the workers', async () => workers?.close());
    await cleanupStep('closing pools', async () => deps?.close());
    await removeThrowaways();
  }
}

runMain(main);
