/** bench/RESULTS.md: every figure next to its same-run baseline, the ratio, the target and whether it was met. */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { Deps } from '../src/deps.ts';
import { dec, int, median, pct, table } from './support.ts';
import type { ImportFigures } from './scale.import.ts';
import type { MergeFigures } from './scale.merge.ts';
import type { PageTimes } from './scale.sweep.ts';
import type { Refresh, TableSize } from './scale.daily.ts';

export interface DailyRun {
  /** Bare aggregate measured just before this run's two refreshes. */
  aggregate: number;
  /** refreshAndRescore({ changedOnly: true }) right after the previous one, same clock: nothing changed. */
  unchanged: Refresh;
  /** The same with the clock one day later and nothing else changed. */
  dayLater: Refresh;
}

export interface Figures {
  scale: number;
  customers: number;
  orders: number;
  runs: number;
  generateSeconds: number;
  seed: 'rescore' | 'sql';
  /** The first rescore after the import (every customer new), once; null with `--seed sql`. */
  first: { seconds: number; aggregate: number; cpuSeconds: number; bareInsert: number } | null;
  daily: DailyRun[];
  /** After the daily refreshes, the per-customer tables compacted (VACUUM FULL); `storedSizes` before that. */
  sizes: { perCustomer: TableSize[]; events: TableSize };
  storedSizes: { perCustomer: TableSize[]; events: TableSize };
  /** Full rescore on request (every customer derived, none new). */
  rescore: number;
  /** 0 when every rescore ran to the end; else the largest share of a rescore that was extrapolated. */
  rescoreExtrapolated: number;
  aggregate: number;
  rescoreRuns: number[];
  aggregateRuns: number[];
  /** seconds to write every customer row once (bareRowUpdateSeconds) */
  bareUpdate: number;
  bareUpdateRuns: number[];
  recomputeDrained: number;
  recomputeNaive: number;
  recomputeSample: number;
  /** Recompute worker and Postgres CPU seconds per customer drained. */
  recomputeCpuPerCustomer: number;
  sweep: { due: number; sweepSeconds: number; untilRecomputedSeconds: number; countSeconds: number };
  pages: PageTimes[];
  ingest: { noop: number; single: number; batch: number; singleP99: number };
  /** cpuPerEvent: API, workers and Postgres CPU seconds per event stored end to end. */
  e2e: { storedPerSec: number; acceptedPerSec: number; customersRecomputedPerSec: number; cpuPerEvent: number };
  /**
   * p99Runs and checkpointRuns per round (Postgres checkpoints begun during it); drain: the wait for
   * earlier parts' queued work before the first round (seconds, outbox messages pending at its start).
   */
  latency: { p50: number; p99: number; rate: number; p99Runs: number[]; checkpointRuns: number[]; drain: { seconds: number; outbox: number; steps: string } | null };
  import: ImportFigures | null;
  /** Merges/s and ingest with merged ids routed, next to ingest without merges (bench/scale.merge.ts). */
  merge: MergeFigures | null;
  /** Peak RSS (MiB) of the API and of each worker process (named by its command line). */
  rss: { api: number; workers: { name: string; mib: number; recompute: boolean }[] };
}

const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

async function versions(deps: Deps) {
  const pgVersion = (await deps.db.execute<{ v: string }>(sql`select current_setting('server_version') as v`)).rows[0]!.v;
  const info = await deps.redis.info('server');
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown';
  let nproc = String(cpus().length);
  try {
    nproc = execFileSync('nproc').toString().trim();
  } catch {
    // keep the os count
  }
  return { pg: pgVersion, redis: redisVersion, nproc };
}

/** The wait before the first latency round, for what earlier parts left queued (bench/scale.ingest.ts, waitDrained). */
const latencyDrain = (drain: Figures['latency']['drain']) =>
  drain ? `each round after the workers drained earlier work: first ${dec(drain.seconds, 1)} s, ${int(drain.outbox)} outbox messages` : 'n/a';

const MIB = 2 ** 20;
const mib = (bytes: number) => `${dec(bytes / MIB, 0)} MiB`;
/** Targets read strictly: "1 KB per customer" as 1,000 bytes, RSS targets in MB as 10^6 bytes (RSS is measured in MiB). */
const KB = 1000;
const MB_IN_MIB = 1e6 / 2 ** 20;

/** Medians over the daily runs of a figure of the unchanged or the day-later refresh. */
function dailyMedian(runs: DailyRun[], which: 'unchanged' | 'dayLater', figure: (r: Refresh) => number): number {
  return median(runs.map((r) => figure(r[which])));
}

/** The inputs of docs/scaling.md's projections, by the names used there. */
export function costInputs(f: Figures) {
  const perCustomerBytes = f.sizes.perCustomer.reduce((sum, t) => sum + t.total, 0);
  const customers = f.sizes.perCustomer.find((t) => t.table === 'customers')?.rows ?? f.customers;
  return {
    N: customers,
    E: f.sizes.events.rows,
    B_cust: perCustomerBytes / customers,
    B_event: f.sizes.events.total / Math.max(f.sizes.events.rows, 1),
    T_day: dailyMedian(f.daily, 'dayLater', (r) => r.seconds),
    C_day: dailyMedian(f.daily, 'dayLater', (r) => r.cpuSeconds),
    W_day: dailyMedian(f.daily, 'dayLater', (r) => r.customersUpdated + r.otherRowsWritten),
    T_same: dailyMedian(f.daily, 'unchanged', (r) => r.seconds),
    c_rec: f.recomputeCpuPerCustomer,
    r_rec: f.recomputeDrained,
    c_evt: f.e2e.cpuPerEvent,
    R_e2e: f.e2e.storedPerSec,
    C_first: f.first?.cpuSeconds ?? Number.NaN,
  };
}

/** Events a customer adds per day in the projections (about 3.65 a year), and the ingest peak over the day's mean. */
export const PROJECTION = { eventsPerCustomerDay: 0.01, peakFactor: 10 };

/**
 * docs/scaling.md's projections from the cost inputs, per customer per day and for a shop of
 * `customers` on nodes like this one. Linear in the customers: the daily refresh reads every
 * customer's row once and derives a share of them, the other costs follow the events.
 */
export function project(c: ReturnType<typeof costInputs>, customers: number) {
  const e = PROJECTION.eventsPerCustomerDay;
  const cpuPerCustomerDay = c.C_day / c.N + e * c.c_evt;
  const bytesPerCustomer = c.B_cust + (c.E / c.N) * c.B_event;
  const rowsPerCustomerDay = c.W_day / c.N + e * 2;
  const peakEventsPerSec = (PROJECTION.peakFactor * customers * e) / 86_400;
  return {
    cpuPerCustomerDay,
    bytesPerCustomer,
    bytesPerCustomerDay: e * c.B_event,
    rowsPerCustomerDay,
    cores: (customers * cpuPerCustomerDay) / 86_400,
    storageBytes: customers * bytesPerCustomer,
    dailyRefreshSeconds: c.T_day * (customers / c.N),
    peakEventsPerSec,
    ingestNodes: Math.ceil(peakEventsPerSec / c.R_e2e),
    /** Customers whose peak ingest one such node stores. */
    customersPerIngestNode: (c.R_e2e * 86_400) / (PROJECTION.peakFactor * e),
  };
}

export async function writeResults(f: Figures, deps: Deps, output?: string): Promise<string> {
  const v = await versions(deps);
  const full = f.customers >= 1_000_000;
  const at = (what: string) => (full ? what : `${what} (target is for 1M customers)`);
  const rescoreRatio = f.rescore / f.aggregate;
  const singleRatio = f.ingest.single / f.ingest.noop;
  const dailyAggregate = median(f.daily.map((d) => d.aggregate));
  const unchanged = (figure: (r: Refresh) => number) => dailyMedian(f.daily, 'unchanged', figure);
  const dayLater = (figure: (r: Refresh) => number) => dailyMedian(f.daily, 'dayLater', figure);
  const unchangedRatio = unchanged((r) => r.seconds) / dailyAggregate;
  const dayLaterRatio = dayLater((r) => r.seconds) / dailyAggregate;
  // Written only where the stored row changed: in every run, no more customer rows updated than rows that differ afterwards.
  const onlyChanged = f.daily.every((d) => d.dayLater.rowsChanged !== null && d.dayLater.customersUpdated <= d.dayLater.rowsChanged);
  const customersTable = f.sizes.perCustomer.find((t) => t.table === 'customers')!;
  const otherTables = f.sizes.perCustomer.filter((t) => t.table !== 'customers');
  const perCustomerBytes = f.sizes.perCustomer.reduce((sum, t) => sum + t.total, 0);
  const bytesPerCustomer = perCustomerBytes / customersTable.rows;
  const sizeRatio = perCustomerBytes / f.sizes.events.total;
  const storedBytes = f.storedSizes.perCustomer.reduce((sum, t) => sum + t.total, 0);
  const recomputeWorker = f.rss.workers.find((w) => w.recompute);
  const daily = f.daily.length > 0;
  const rows: string[][] = [
    f.first
      ? [at('first rescore after an import (every customer new)'), `${dec(f.first.seconds, 1)} s (${dec(f.first.cpuSeconds, 0)} CPU s, worker and Postgres)`, `bare aggregate ${dec(f.first.aggregate, 1)} s`, dec(f.first.seconds / f.first.aggregate, 2), '≤ 3×', verdict(f.first.seconds / f.first.aggregate <= 3)]
      : [at('first rescore after an import (every customer new)'), 'n/a (`--seed sql`)', 'bare aggregate', '', '≤ 3×', 'n/a'],
    ...(f.first
      ? [[at('writing every customer row once, with its indexes (the floor of a first rescore)'), `bare row insert ${dec(f.first.bareInsert, 1)} s`, `bare aggregate ${dec(f.first.aggregate, 1)} s`, dec(f.first.bareInsert / f.first.aggregate, 2), '', '']]
      : []),
    daily
      ? [at('rescore where nothing changed (daily refresh right after one)'), `${dec(unchanged((r) => r.seconds), 2)} s (${int(unchanged((r) => r.derived))} derived, ${int(unchanged((r) => r.customersUpdated))} customer rows updated)`, `bare aggregate ${dec(dailyAggregate, 1)} s`, dec(unchangedRatio, 2), '≤ 1.0×', verdict(unchangedRatio <= 1)]
      : [at('rescore where nothing changed (daily refresh right after one)'), 'n/a', 'bare aggregate', '', '≤ 1.0×', 'n/a'],
    daily
      ? [at('day-later rescore (daily refresh, clock +1 day)'), `${dec(dayLater((r) => r.seconds), 1)} s; ${int(dayLater((r) => r.customersUpdated))} customer rows updated (n_tup_upd, ${pct(dayLater((r) => r.customersHotUpdated) / Math.max(dayLater((r) => r.customersUpdated), 1))} HOT), ${int(dayLater((r) => r.rowsChanged ?? Number.NaN))} rows differ afterwards, ${int(dayLater((r) => r.changed))} customers' judgments changed, ${int(dayLater((r) => r.derived))} derived; ${int(dayLater((r) => r.otherRowsWritten))} rows in other per-customer tables`, `bare aggregate ${dec(dailyAggregate, 1)} s`, dec(dayLaterRatio, 2), '≤ 1.5×, writing only changed customers', verdict(dayLaterRatio <= 1.5 && onlyChanged)]
      : [at('day-later rescore (daily refresh, clock +1 day)'), 'n/a', 'bare aggregate', '', '≤ 1.5×', 'n/a'],
    [at('per-customer tables, everything included (compacted)'), `${mib(perCustomerBytes)} (${mib(storedBytes)} before VACUUM FULL): customers ${mib(customersTable.total)} (heap ${mib(customersTable.heap)}, indexes ${mib(customersTable.indexes)}, TOAST ${mib(customersTable.toast)})${otherTables.map((t) => `, ${t.table} ${mib(t.total)}`).join('')}`, `events table ${mib(f.sizes.events.total)}`, dec(sizeRatio, 2), '≤ 1.0×', verdict(sizeRatio <= 1)],
    [at('customers table per customer, everything included (compacted)'), `${int(customersTable.total / customersTable.rows)} B (heap, indexes and TOAST; ${int(bytesPerCustomer)} B with every per-customer table)`, `events ${int(f.sizes.events.total / Math.max(f.sizes.events.rows, 1))} B per event`, '', '≤ 1 KB (1,000 B)', verdict(customersTable.total / customersTable.rows <= KB)],
    [at('recompute (drained batches, worker processes)'), `${int(f.recomputeDrained)} customers/s (${dec(f.recomputeCpuPerCustomer * 1000, 2)} CPU ms each)`, `one transaction per customer ${int(f.recomputeNaive)}/s`, dec(f.recomputeDrained / f.recomputeNaive, 2), '≥ 10,000 customers/s', verdict(f.recomputeDrained >= 10_000)],
    [at('full rescore on request (every customer derived, none new)'), `${dec(f.rescore, 1)} s${f.rescoreExtrapolated > 0 ? ` (extrapolated from ${pct(1 - f.rescoreExtrapolated)} done)` : ''}`, `bare aggregate ${dec(f.aggregate, 1)} s`, dec(rescoreRatio, 2), '', ''],
    [at('full rescore vs writing every row'), `${dec(f.rescore, 1)} s`, `bare row update ${dec(f.bareUpdate, 1)} s`, dec(f.rescore / f.bareUpdate, 2), '', ''],
    f.import
      ? ['import', `${int(f.import.rowsPerSec)} rows/s`, `bare COPY ${int(f.import.bareCopyRowsPerSec)} rows/s`, dec(f.import.rowsPerSec / f.import.bareCopyRowsPerSec, 2), '≥ 0.8×', verdict(f.import.rowsPerSec / f.import.bareCopyRowsPerSec >= 0.8)]
      : ['import', 'n/a', 'bare COPY', '', '≥ 0.8×', 'n/a'],
    ['Online Retail file, imported and rescored', f.import?.onlineRetailSeconds != null ? `${dec(f.import.onlineRetailSeconds, 1)} s` : 'n/a', '', '', '< 10 s', f.import?.onlineRetailSeconds != null ? verdict(f.import.onlineRetailSeconds < 10) : 'n/a'],
    f.merge
      ? ['profile merges (runs of 500, one transaction each)', `${int(f.merge.mergesPerSec)} merges/s (${int(f.merge.pairs)} pairs, 3 orders each)`, '', '', '', '']
      : ['profile merges (runs of 500, one transaction each)', 'n/a', '', '', '', 'n/a'],
    f.merge
      ? ['ingest with merged ids routed (storeEvents, 1,000-event jobs)', `${int(f.merge.routedEventsPerSec)} events/s routed; ${int(f.merge.mixedEventsPerSec)} events/s with 1% aliases in the stream`, `without merges ${int(f.merge.plainEventsPerSec)} events/s`, dec(f.merge.routedEventsPerSec / f.merge.plainEventsPerSec, 2), '≥ 0.8×', verdict(f.merge.routedEventsPerSec / f.merge.plainEventsPerSec >= 0.8)]
      : ['ingest with merged ids routed (storeEvents, 1,000-event jobs)', 'n/a', 'without merges', '', '≥ 0.8×', 'n/a'],
    ['single-event ingest', `${int(f.ingest.single)} req/s (p99 ${dec(f.ingest.singleP99, 0)} ms)`, `bare Fastify no-op ${int(f.ingest.noop)} req/s`, dec(singleRatio, 2), '≥ 0.45×', verdict(singleRatio >= 0.45)],
    ['batch ingest (1,000 events/request)', `${int(f.ingest.batch)} events/s accepted`, `no-op ${int(f.ingest.noop)} req/s`, dec(f.ingest.batch / f.ingest.noop, 1), '≥ 100,000 events/s', verdict(f.ingest.batch >= 100_000)],
    ['end to end, sustained', `${int(f.e2e.storedPerSec)} events/s stored (${int(f.e2e.acceptedPerSec)}/s accepted; ${dec(f.e2e.cpuPerEvent * 1e6, 0)} CPU µs per event)`, `batch ingest ${int(f.ingest.batch)} events/s`, dec(f.e2e.storedPerSec / f.ingest.batch, 2), '≥ 20,000 events/s', verdict(f.e2e.storedPerSec >= 20_000)],
    ['end to end, customers recomputed', `${int(f.e2e.customersRecomputedPerSec)} customers/s`, '', '', '', ''],
    ['event → state at 1,000 events/s', `p50 ${dec(f.latency.p50, 0)} ms, p99 ${dec(f.latency.p99, 0)} ms (background ${int(f.latency.rate)} events/s; runs ${f.latency.p99Runs.map((p) => dec(p, 0)).join(', ')} ms, ${f.latency.checkpointRuns.join(', ')} checkpoints during them; ${latencyDrain(f.latency.drain)})`, '', '', 'p99 ≤ 500 ms', verdict(f.latency.p99 <= 500)],
    ...f.pages.map((p) => [at(`first page: ${p.name}`), `p50 ${dec(p.p50, 1)} ms, p99 ${dec(p.p99, 1)} ms (${p.items} items)`, '', '', 'p99 ≤ 5 ms', verdict(p.p99 <= 5)]),
    [at(`due-review sweep, ${int(f.sweep.due)} due (1%)`), `sweep ${dec(f.sweep.sweepSeconds, 2)} s; until all recomputed ${dec(f.sweep.untilRecomputedSeconds, 2)} s`, `indexed count of the due ${dec(f.sweep.countSeconds * 1000, 1)} ms`, '', '≤ 2 s for 10k due', verdict(f.sweep.untilRecomputedSeconds <= 2)],
    [at('peak RSS, API process'), `${dec(f.rss.api, 0)} MiB`, '', '', '≤ 200 MB (190.7 MiB)', verdict(f.rss.api <= 200 * MB_IN_MIB)],
    ...f.rss.workers.map((w) => [at(`peak RSS, \`${w.name}\``), `${dec(w.mib, 0)} MiB`, '', '', w.recompute ? '≤ 300 MB (286.1 MiB)' : '≤ 400 MB (381.5 MiB)', verdict(w.mib <= (w.recompute ? 300 : 400) * MB_IN_MIB)]),
  ];
  const notMeasured = (r: string[]) => r[1]!.startsWith('n/a') || r[1]!.startsWith('NaN');
  const c = costInputs(f);
  const inputs: [string, string, string][] = [
    ['N', 'customers', int(c.N)],
    ['E', 'events stored', int(c.E)],
    ['B_cust', 'bytes per customer, every per-customer table with its indexes and TOAST', int(c.B_cust)],
    ['B_event', 'bytes per event, events table with its indexes and TOAST', int(c.B_event)],
    ['T_day', 'seconds of a day-later refresh (wall)', dec(c.T_day, 1)],
    ['C_day', 'CPU seconds of a day-later refresh (Node and its Postgres backends)', dec(c.C_day, 1)],
    ['W_day', 'rows written by a day-later refresh (customers updated + rows in other tables)', int(c.W_day)],
    ['T_same', 'seconds of a refresh where nothing changed', dec(c.T_same, 2)],
    ['c_rec', 'CPU seconds per customer recompute (drained; worker and Postgres)', dec(c.c_rec, 6)],
    ['r_rec', 'customers recomputed per second, drained', int(c.r_rec)],
    ['c_evt', 'CPU seconds per event stored end to end (API, workers, Postgres)', dec(c.c_evt, 6)],
    ['R_e2e', 'events stored per second end to end, one node', int(c.R_e2e)],
    ['C_first', 'CPU seconds of the first rescore after the import', dec(c.C_first, 0)],
  ];
  const projections = [10_000_000, 100_000_000].map((n) => ({ n, p: project(c, n) }));
  const gb = (bytes: number) => `${dec(bytes / 1e9, 0)} GB`;
  const projectionRows: string[][] = [
    ['CPU seconds per customer per day', ...projections.map(({ p }) => dec(p.cpuPerCustomerDay, 6))],
    ['bytes stored per customer (state + events)', ...projections.map(({ p }) => int(p.bytesPerCustomer))],
    ['bytes added per customer per day', ...projections.map(({ p }) => int(p.bytesPerCustomerDay))],
    ['rows written per customer per day', ...projections.map(({ p }) => dec(p.rowsPerCustomerDay, 4))],
    ['CPU cores busy on average', ...projections.map(({ p }) => dec(p.cores, 2))],
    ['storage', ...projections.map(({ p }) => gb(p.storageBytes))],
    ['daily refresh on one node', ...projections.map(({ p }) => `${dec(p.dailyRefreshSeconds / 60, 0)} min`)],
    [`peak ingest (${PROJECTION.peakFactor}× the day's mean)`, ...projections.map(({ p }) => `${int(p.peakEventsPerSec)} events/s`)],
    ['nodes like this one for that peak', ...projections.map(({ p }) => int(p.ingestNodes))],
    ['customers whose peak one such node stores', ...projections.map(({ p }) => int(p.customersPerIngestNode))],
  ];
  const text = `# Benchmark results

Written by \`npm run bench${f.scale === 1 ? '' : ` -- --scale ${f.scale}`}\` on ${new Date().toISOString()}.
Synthetic shop: ${int(f.customers)} customers, ${int(f.orders)} orders (generated in SQL in ${dec(f.generateSeconds, 0)} s;
${f.seed === 'rescore' ? 'state from the first rescore, measured below' : 'state seeded approximately in SQL (`--seed sql`), no first rescore'}). Medians of ${f.runs} runs; the ratio divides each figure by its
same-run baseline. The machine is shared, so compare ratios rather than absolute figures.

Machine: ${v.nproc} CPUs (\`nproc\`), ${dec(totalmem() / 2 ** 30, 1)} GiB memory; node ${process.version}, PostgreSQL ${v.pg}, Redis ${v.redis}.

${table(['figure', 'measured', 'baseline (same run)', 'ratio', 'target', ''], rows.map((r) => (notMeasured(r) ? [r[0]!, 'not measured', ...r.slice(2, 5), 'n/a'] : r)))}

The first rescore after the import runs once (a shop is new only once), as \`POST /v1/rescore\` in the recompute
worker. Daily refreshes (\`refreshAndRescore({ changedOnly: true })\`, the scheduled job's call) run in the
benchmark process with a clock of their own, one day further per run: ${f.daily.map((d, i) => `run ${i + 1}: nothing changed ${dec(d.unchanged.seconds, 2)} s (${int(d.unchanged.customersUpdated)} rows updated), a day later ${dec(d.dayLater.seconds, 1)} s (${int(d.dayLater.derived)} derived, ${int(d.dayLater.changed)} judgments changed, ${int(d.dayLater.customersUpdated)} rows updated, ${int(d.dayLater.rowsChanged ?? Number.NaN)} rows differ, ${dec(d.dayLater.cpuSeconds, 1)} CPU s), bare aggregate ${dec(d.aggregate, 1)} s`).join('; ') || 'not measured'}.
Full rescore runs: ${f.rescoreRuns.map((s) => dec(s, 1)).join(', ') || 'none'} s; bare aggregate runs: ${f.aggregateRuns.map((s) => dec(s, 1)).join(', ') || 'none'} s;
bare row update runs (\`update customers set computed_at = computed_at\` in id batches of 1,000): ${f.bareUpdateRuns.map((s) => dec(s, 1)).join(', ') || 'none'} s.
Recompute figures: ${int(f.recomputeSample)} customers asked for at once and drained by the worker processes; the
baseline recomputes a quarter as many (at most 1,000), one transaction each, in the benchmark process.
Sizes are taken after the daily refreshes, with the per-customer tables rewritten by \`VACUUM FULL\` (autovacuum is
off on this machine, so earlier passes' dead rows would otherwise count); before that they held
${f.storedSizes.perCustomer.map((t) => `${t.table} ${mib(t.total)} with ${int(t.deadRows)} dead rows`).join(', ')}; events ${mib(f.storedSizes.events.total)} with ${int(f.storedSizes.events.deadRows)}.

## Cost inputs

The inputs of the projections in docs/scaling.md, from this run:

${table(['name', 'what', 'value'], inputs.map(([n, w, val]) => [`\`${n}\``, w, val]))}

Projected with the formulas of docs/scaling.md, ${PROJECTION.eventsPerCustomerDay} events per customer per day:

${table(['per customer per day, and for the shop', '10M customers', '100M customers'], projectionRows)}
`;
  const path = output ?? fileURLToPath(new URL('./RESULTS.md', import.meta.url));
  await writeFile(path, text);
  return path;
}
