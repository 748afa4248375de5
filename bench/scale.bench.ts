/**
 * `npm run bench`: generates a synthetic shop in SQL, then measures every scale figure next to its
 * baseline in one run, and writes bench/RESULTS.md. The API and the workers run as separate child
 * processes (`tierwise api`, `tierwise worker --queues …`) so their peak RSS is their own.
 *
 *   npm run bench                      # 1,000,000 customers, 10,000,000 orders, 3 runs of each figure
 *   npm run bench -- --scale 0.01      # 10,000 customers, 100,000 orders
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createDeps, type Deps } from '../src/deps.ts';
import { migrateDb } from '../src/store/db.ts';
import { benchConfig, checkInterrupted, cleanupStep, createDatabase, handleInterrupts, intEnv, machine, median, removeThrowaways, runMain, sleep } from './support.ts';
import { generateShop, type Seed } from './scale.generate.ts';
import { bareAggregateSeconds, bareRowInsertSeconds, bareRowUpdateSeconds, drainedRecomputeRate, naiveRecomputeRate, sampleCustomerIds, waitForRecomputes } from './scale.rescore.ts';
import { measureFirstPages, measureSweep } from './scale.sweep.ts';
import { discardBacklog, measureAcceptance, measureEndToEnd, measureLatency, waitDrained } from './scale.ingest.ts';
import { freePort, serviceEnv, spawnNoop, spawnService, spawnWorkers, waitReady, WORKER_LAYOUTS, type Child, type WorkerLayout } from './scale.processes.ts';
import { measureImport, type ImportFigures } from './scale.import.ts';
import { measureMerges, type MergeFigures } from './scale.merge.ts';
import { writeResults, type DailyRun, type Figures } from './scale.results.ts';
import { backendPids, compactedSizes, excludeFromCpu, cpuOf, cpuSince, dayLater, tableSizes, timeDailyRefresh } from './scale.daily.ts';

const { values: args } = parseArgs({
  options: { scale: { type: 'string', default: '1' }, output: { type: 'string' }, seed: { type: 'string', default: 'rescore' } },
});
if (args.seed !== 'rescore' && args.seed !== 'sql') throw new Error(`--seed must be rescore or sql, got ${args.seed}`);
const SEED = args.seed as Seed;
const SCALE = Number(args.scale);
if (!(SCALE > 0 && SCALE <= 10)) throw new Error(`--scale must be in (0, 10], got ${args.scale}`);
const CUSTOMERS = Math.round(1_000_000 * SCALE);
const ORDERS = Math.round(10_000_000 * SCALE);
const RUNS = intEnv('BENCH_RUNS', 3);
const SECONDS = intEnv('BENCH_SECONDS', 10);
/** Full rescores are minutes each at 1M customers; this may be set lower than BENCH_RUNS. */
const RESCORE_RUNS = intEnv('BENCH_RESCORE_RUNS', RUNS);
/** Past this many seconds a rescore is stopped and its time extrapolated from its progress (0: never). */
const RESCORE_CAP_S = intEnv('BENCH_RESCORE_CAP_S', 0, 0);
/** Ingest loads spread over this many of the shop's customers, so their recomputes coalesce as a real shop's would. */
const LOAD_CUSTOMERS = Math.min(CUSTOMERS, 20_000);
const PARTS = ['rescore', 'daily', 'recompute', 'sweep', 'pages', 'ingest', 'e2e', 'latency', 'import', 'merge'] as const;
/** The figures to measure (default all); the others are reported as n/a. */
const ONLY = new Set((process.env.BENCH_PARTS || PARTS.join(',')).split(',').map((p) => p.trim()));
for (const part of ONLY) if (!PARTS.includes(part as (typeof PARTS)[number])) throw new Error(`BENCH_PARTS: unknown part "${part}"; choose from ${PARTS.join(', ')}`);
const LAYOUT = (process.env.BENCH_WORKERS || 'split') as WorkerLayout;
if (!(LAYOUT in WORKER_LAYOUTS)) throw new Error(`BENCH_WORKERS must be ${Object.keys(WORKER_LAYOUTS).join(' or ')}, got ${LAYOUT}`);
const runsOf = (part: (typeof PARTS)[number], runs = RUNS) => (ONLY.has(part) ? runs : 0);
const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;
const log = (line: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

handleInterrupts();

/** Seconds for a rescore job; past `capS` the run stops and the time is extrapolated from the job's progress. */
async function timeRescoreJob(baseUrl: string, capS: number): Promise<{ seconds: number; complete: boolean; progress: number }> {
  const headers = { authorization: `Bearer ${ADMIN_KEY}` };
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}/v1/rescore`, { method: 'POST', headers });
  const { job_id } = (await res.json()) as { job_id: string };
  for (;;) {
    await sleep(100);
    const job = (await (await fetch(`${baseUrl}/v1/jobs/${job_id}`, { headers })).json()) as { status: string; progress: number; error?: string };
    const seconds = (performance.now() - t0) / 1000;
    if (job.status === 'completed') return { seconds, complete: true, progress: 1 };
    if (job.status === 'failed') throw new Error(`rescore failed: ${job.error}`);
    if (capS > 0 && seconds > capS && job.progress > 0) return { seconds: seconds / job.progress, complete: false, progress: job.progress };
    checkInterrupted();
  }
}

async function measure(deps: Deps): Promise<Figures> {
  const t0 = performance.now();
  const client = new pg.Client({ connectionString: deps.config.DATABASE_URL });
  client.on('error', (err) => log(`generator connection: ${err.message}`));
  await client.connect();
  try {
    await generateShop(client, { customers: CUSTOMERS, orders: ORDERS }, deps.clock.now(), log, SEED);
  } finally {
    await client.end();
  }
  const generateSeconds = (performance.now() - t0) / 1000;
  log(`generated in ${generateSeconds.toFixed(1)} s`);
  const port = await freePort();
  const apiUrl = `http://127.0.0.1:${port}`;
  const env = serviceEnv(deps.config, {
    TIERWISE_ADMIN_KEY: ADMIN_KEY, PORT: String(port), RATE_LIMIT_MAX: '100000000', INGEST_MAX_WAITING: '1000000',
    SWEEP_INTERVAL_MS: '3600000', STATS_REFRESH_CRON: '0 0 1 1 *',
  });
  const api = await spawnService('api', env);
  let workers = await spawnWorkers(env, LAYOUT);
  const children: Child[] = [api, ...workers];
  try {
    await waitReady(apiUrl);
    const noop = await spawnNoop(await freePort());
    children.push(noop.child);
    const peakRss = new Map<string, number>();
    const notePeaks = () => {
      for (const child of [api, ...workers]) peakRss.set(child.name, Math.max(peakRss.get(child.name) ?? 0, child.peakRssMiB()));
    };
    const recomputeWorker = () => workers.find((w) => w.name === 'worker' || w.name.includes('recompute'))!;

    // The first rescore after an import: every customer is new (no state, no digest), as after
    // `tierwise import` (which rescores everyone). It seeds the state every later figure needs, so
    // it runs once and is never stopped early; in the recompute worker, so its memory counts there.
    let first: Figures['first'] = null;
    if (SEED === 'rescore') {
      const aggregateBefore = await bareAggregateSeconds(deps);
      const cpuBefore = cpuOf([recomputeWorker().process.pid!, ...(await backendPids(deps))]);
      const timed = await timeRescoreJob(apiUrl, 0);
      const cpu = cpuSince(cpuBefore, cpuOf([recomputeWorker().process.pid!, ...(await backendPids(deps))]));
      const insert = await bareRowInsertSeconds(deps);
      first = { seconds: timed.seconds, aggregate: aggregateBefore, cpuSeconds: cpu, bareInsert: insert };
      log(`first rescore (every customer new) ${timed.seconds.toFixed(1)} s, ${cpu.toFixed(0)} CPU s; bare aggregate ${aggregateBefore.toFixed(1)} s; bare row insert ${insert.toFixed(1)} s`);
    }

    const sample = Math.min(CUSTOMERS, Math.max(2_000, Math.round(20_000 * Math.sqrt(SCALE))));
    const naive: number[] = [];
    const drained: number[] = [];
    /** Worker and Postgres CPU seconds per customer drained. */
    const recomputeCpu: number[] = [];
    for (let run = 0; run < runsOf('recompute'); run++) {
      naive.push(await naiveRecomputeRate(deps, await sampleCustomerIds(deps, Math.min(1_000, Math.round(sample / 4)), run * 2)));
      const ids = await sampleCustomerIds(deps, sample, run * 2 + 1);
      const cpuBefore = cpuOf([recomputeWorker().process.pid!, ...(await backendPids(deps))]);
      drained.push(await drainedRecomputeRate(deps, ids));
      recomputeCpu.push(cpuSince(cpuBefore, cpuOf([recomputeWorker().process.pid!, ...(await backendPids(deps))])) / ids.length);
      log(`recompute run ${run + 1}: drained ${drained.at(-1)!.toFixed(0)}/s, naive ${naive.at(-1)!.toFixed(0)}/s`);
    }

    const sweeps = [];
    for (let run = 0; run < runsOf('sweep'); run++) {
      sweeps.push(await measureSweep(deps, 0.01));
      log(`sweep run ${run + 1}: ${sweeps.at(-1)!.due} due, sweep ${sweeps.at(-1)!.sweepSeconds.toFixed(2)} s, recomputed ${sweeps.at(-1)!.untilRecomputedSeconds.toFixed(2)} s`);
    }

    const pages = ONLY.has('pages') ? await measureFirstPages(apiUrl, ADMIN_KEY, 200) : [];
    if (pages.length > 0) log(`first pages: ${pages.map((p) => `${p.name} p99 ${p.p99.toFixed(1)} ms`).join('; ')}`);

    const ingest = { noop: [] as number[], single: [] as number[], batch: [] as number[], singleP99: [] as number[] };
    for (let run = 0; run < runsOf('ingest'); run++) {
      // The acceptance figures are the API's own: the workers are paused (SIGSTOP) while they are taken
      // and what they accepted is dropped unstored (storing is what the end-to-end runs measure).
      for (const worker of workers) worker.process.kill('SIGSTOP');
      const round = await measureAcceptance(deps, { api: apiUrl, noop: noop.url }, ADMIN_KEY, LOAD_CUSTOMERS, SECONDS).finally(() => {
        for (const worker of workers) worker.process.kill('SIGCONT');
      });
      await waitForRecomputes(deps, 120_000);
      ingest.noop.push(round.noop.reqPerSec);
      ingest.single.push(round.single.reqPerSec);
      ingest.singleP99.push(round.single.p99);
      ingest.batch.push(round.batch.eventsPerSec);
      log(`ingest run ${run + 1}: no-op ${round.noop.reqPerSec.toFixed(0)} req/s, single ${round.single.reqPerSec.toFixed(0)} req/s, batch ${round.batch.eventsPerSec.toFixed(0)} events/s`);
    }

    const e2e = [];
    /** CPU seconds per event stored end to end: the API, the workers and Postgres (the load generator not counted). */
    const e2eCpu: number[] = [];
    for (let run = 0; run < runsOf('e2e'); run++) {
      const services = () => [api, ...workers].map((c) => c.process.pid!);
      const cpuBefore = cpuOf([...services(), ...(await backendPids(deps))]);
      e2e.push(await measureEndToEnd(deps, `${apiUrl}/v1/events/batch`, ADMIN_KEY, LOAD_CUSTOMERS, SECONDS));
      const stored = e2e.at(-1)!.stored;
      e2eCpu.push(cpuSince(cpuBefore, cpuOf([...services(), ...(await backendPids(deps))])) / Math.max(stored, 1));
      log(`end to end run ${run + 1}: stored ${e2e.at(-1)!.storedPerSec.toFixed(0)} events/s, ${e2e.at(-1)!.customersRecomputedPerSec.toFixed(0)} customers recomputed/s, ${e2e.at(-1)!.backlogEvents} events still queued`);
      await discardBacklog(deps);
      await waitForRecomputes(deps, 120_000);
    }
    const latency = [];
    let latencyDrain: Figures['latency']['drain'] = null;
    for (let run = 0; run < runsOf('latency'); run++) {
      // Each round starts with the workers idle: earlier parts (and rounds) leave queued work behind.
      const drain = await waitDrained(deps);
      latencyDrain ??= drain;
      log(`latency run ${run + 1}: waited ${drain.seconds.toFixed(1)} s for earlier work to drain (${drain.steps}; ${drain.outbox} outbox messages pending at the start)`);
      latency.push(await measureLatency(deps, apiUrl, ADMIN_KEY, LOAD_CUSTOMERS, 1_000, SECONDS));
      const round = latency.at(-1)!;
      log(`latency run ${run + 1}: p50 ${round.p50.toFixed(0)} ms, p99 ${round.p99.toFixed(0)} ms (${round.seen}/${round.probes} probes; ${round.checkpoints} Postgres checkpoints began meanwhile)`);
    }

    // A full rescore on request (POST /v1/rescore: statistics refresh, every customer derived, none
    // of them new), as after a policy change; next to the aggregate and to writing every row once.
    const rescore: number[] = [];
    let rescoreExtrapolated = 0;
    const aggregate: number[] = [];
    for (let run = 0; run < runsOf('rescore', RESCORE_RUNS); run++) {
      aggregate.push(await bareAggregateSeconds(deps));
      const timed = await timeRescoreJob(apiUrl, RESCORE_CAP_S);
      rescore.push(timed.seconds);
      if (!timed.complete) {
        rescoreExtrapolated = Math.max(rescoreExtrapolated, 1 - timed.progress);
        // Stop the unfinished rescore: fresh workers, and the job removed. (The daily refresh below
        // derives whoever the stopped rescore left behind before anything is timed.)
        notePeaks();
        for (const worker of workers) worker.process.kill('SIGKILL');
        await deps.queues.maintenance.obliterate({ force: true });
        workers = await spawnWorkers(env, LAYOUT);
        children.push(...workers);
        log(`rescore stopped at ${(timed.progress * 100).toFixed(0)}% after ${RESCORE_CAP_S} s; time extrapolated`);
      }
      log(`full rescore run ${run + 1}: ${rescore[run]!.toFixed(1)} s, bare aggregate ${aggregate.at(-1)!.toFixed(1)} s`);
    }
    const bareUpdate: number[] = [];
    for (let run = 0; run < runsOf('rescore', RESCORE_RUNS); run++) {
      bareUpdate.push(await bareRowUpdateSeconds(deps));
      log(`bare row update run ${run + 1}: ${bareUpdate.at(-1)!.toFixed(1)} s`);
    }

    // The daily refresh, last of the figures that use this shop: it runs in this process on a clock
    // of its own that moves a day ahead per run (bench/scale.daily.ts).
    const daily: DailyRun[] = [];
    let clock = deps.clock.now();
    if (ONLY.has('daily')) {
      const settle = await timeDailyRefresh(deps, clock);
      log(`daily refresh to settle: ${settle.seconds.toFixed(1)} s, ${settle.derived} derived`);
      // A backend reports its table counters at most 10 s after it goes idle (PostgreSQL 15): wait
      // until the workers' and this process's earlier writes are counted, so none lands in a refresh's delta.
      await sleep(11_000);
      for (let run = 0; run < RUNS; run++) {
        const bare = await bareAggregateSeconds(deps);
        const unchanged = await timeDailyRefresh(deps, clock);
        clock = dayLater(clock);
        const dayAfter = await timeDailyRefresh(deps, clock, { compareRows: true });
        daily.push({ aggregate: bare, unchanged, dayLater: dayAfter });
        log(`daily run ${run + 1}: nothing changed ${unchanged.seconds.toFixed(1)} s (${unchanged.derived} derived, ${unchanged.customersUpdated} rows updated); ` +
          `a day later ${dayAfter.seconds.toFixed(1)} s (${dayAfter.derived} derived, ${dayAfter.changed} changed, ${dayAfter.customersUpdated} rows updated, ${dayAfter.rowsChanged} rows differ); bare aggregate ${bare.toFixed(1)} s`);
      }
    }
    const stored = await tableSizes(deps);
    const sizes = await compactedSizes(deps);
    const sizeLine = (s: typeof sizes) => `${s.perCustomer.map((t) => `${t.table} ${(t.total / 2 ** 20).toFixed(0)} MiB`).join(', ')}; events ${(s.events.total / 2 ** 20).toFixed(0)} MiB`;
    log(`sizes as stored: ${sizeLine(stored)}; compacted: ${sizeLine(sizes)}`);
    notePeaks();

    const importFigures: ImportFigures | null = ONLY.has('import') ? await measureImport(RUNS, log) : null;
    const mergeFigures: MergeFigures | null = ONLY.has('merge') ? await measureMerges(deps, RUNS, log) : null;

    return {
      scale: SCALE, customers: CUSTOMERS, orders: ORDERS, runs: RUNS, generateSeconds, first, daily, sizes, storedSizes: stored,
      rescore: median(rescore), rescoreExtrapolated, seed: SEED, aggregate: median(aggregate), rescoreRuns: rescore, aggregateRuns: aggregate, bareUpdate: median(bareUpdate), bareUpdateRuns: bareUpdate,
      recomputeDrained: median(drained), recomputeNaive: median(naive), recomputeSample: sample, recomputeCpuPerCustomer: median(recomputeCpu),
      sweep: {
        due: median(sweeps.map((s) => s.due)), sweepSeconds: median(sweeps.map((s) => s.sweepSeconds)),
        untilRecomputedSeconds: median(sweeps.map((s) => s.untilRecomputedSeconds)), countSeconds: median(sweeps.map((s) => s.countSeconds)),
      },
      pages,
      ingest: { noop: median(ingest.noop), single: median(ingest.single), batch: median(ingest.batch), singleP99: median(ingest.singleP99) },
      e2e: {
        storedPerSec: median(e2e.map((e) => e.storedPerSec)), acceptedPerSec: median(e2e.map((e) => e.acceptedPerSec)),
        customersRecomputedPerSec: median(e2e.map((e) => e.customersRecomputedPerSec)), cpuPerEvent: median(e2eCpu),
      },
      latency: {
        p50: median(latency.map((l) => l.p50).filter(Number.isFinite)), p99: median(latency.map((l) => l.p99).filter(Number.isFinite)), rate: median(latency.map((l) => l.backgroundEventsPerSec)),
        p99Runs: latency.map((l) => l.p99), checkpointRuns: latency.map((l) => l.checkpoints), drain: latencyDrain,
      },
      import: importFigures,
      merge: mergeFigures,
      rss: { api: peakRss.get(api.name)!, workers: [...peakRss].filter(([name]) => name !== api.name).map(([name, mib]) => ({ name, mib, recompute: name === 'worker' || name.includes('recompute') })) },
    };
  } finally {
    for (const child of children) await child.stop();
  }
}

async function main(): Promise<number> {
  log(machine());
  log(`scale ${SCALE}: ${CUSTOMERS.toLocaleString('en-US')} customers, ${ORDERS.toLocaleString('en-US')} orders, ${RUNS} runs`);
  await createDatabase();
  const deps = createDeps(benchConfig({ TIERWISE_ADMIN_KEY: ADMIN_KEY }));
  excludeFromCpu(deps);
  try {
    await migrateDb(deps.db);
    const figures = await measure(deps);
    const path = await writeResults(figures, deps, args.output);
    log(`wrote ${path}`);
    return 0;
  } finally {
    await cleanupStep('closing connections', () => deps.close());
    await removeThrowaways();
  }
}

runMain(main);
