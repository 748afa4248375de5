/** bench/RESULTS.md: every figure next to its same-run baseline, the ratio, the target and whether it was met. */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import type { Deps } from '../src/deps.ts';
import { dec, int, pct, table } from './support.ts';
import type { ImportFigures } from './scale.import.ts';
import type { PageTimes } from './scale.sweep.ts';

export interface Figures {
  scale: number;
  customers: number;
  orders: number;
  runs: number;
  generateSeconds: number;
  seedSeconds: number;
  rescore: number;
  /** 0 when every rescore ran to the end; else the largest share of a rescore that was extrapolated. */
  rescoreExtrapolated: number;
  seed: 'rescore' | 'sql';
  aggregate: number;
  rescoreRuns: number[];
  aggregateRuns: number[];
  /** seconds to write every customer row once (bareRowUpdateSeconds) */
  bareUpdate: number;
  bareUpdateRuns: number[];
  recomputeDrained: number;
  recomputeNaive: number;
  recomputeSample: number;
  sweep: { due: number; sweepSeconds: number; untilRecomputedSeconds: number; countSeconds: number };
  pages: PageTimes[];
  ingest: { noop: number; single: number; batch: number; singleP99: number };
  e2e: { storedPerSec: number; acceptedPerSec: number; customersRecomputedPerSec: number };
  latency: { p50: number; p99: number; rate: number };
  import: ImportFigures | null;
  /** Peak RSS (MiB) of the API and of each worker process (named by its command line). */
  rss: { api: number; workers: { name: string; mib: number }[] };
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

export async function writeResults(f: Figures, deps: Deps, output?: string): Promise<string> {
  const v = await versions(deps);
  const full = f.customers >= 1_000_000;
  const at = (what: string) => (full ? what : `${what} (target is for 1M customers)`);
  const rescoreRatio = f.rescore / f.aggregate;
  const singleRatio = f.ingest.single / f.ingest.noop;
  const rows: string[][] = [
    ['single-event ingest', `${int(f.ingest.single)} req/s (p99 ${dec(f.ingest.singleP99, 0)} ms)`, `bare Fastify no-op ${int(f.ingest.noop)} req/s`, dec(singleRatio, 2), '≥ 0.45×', verdict(singleRatio >= 0.45)],
    ['batch ingest (1,000 events/request)', `${int(f.ingest.batch)} events/s accepted`, `no-op ${int(f.ingest.noop)} req/s`, dec(f.ingest.batch / f.ingest.noop, 1), '≥ 100,000 events/s', verdict(f.ingest.batch >= 100_000)],
    ['end to end, sustained', `${int(f.e2e.storedPerSec)} events/s stored (${int(f.e2e.acceptedPerSec)}/s accepted)`, `batch ingest ${int(f.ingest.batch)} events/s`, dec(f.e2e.storedPerSec / f.ingest.batch, 2), '≥ 20,000 events/s', verdict(f.e2e.storedPerSec >= 20_000)],
    ['end to end, customers recomputed', `${int(f.e2e.customersRecomputedPerSec)} customers/s`, '', '', '', ''],
    ['event → state at 1,000 events/s', `p50 ${dec(f.latency.p50, 0)} ms, p99 ${dec(f.latency.p99, 0)} ms (background ${int(f.latency.rate)} events/s)`, '', '', 'p99 ≤ 500 ms', verdict(f.latency.p99 <= 500)],
    ['recompute (drained batches, worker processes)', `${int(f.recomputeDrained)} customers/s`, `one transaction per customer ${int(f.recomputeNaive)}/s`, dec(f.recomputeDrained / f.recomputeNaive, 2), '≥ 5,000 customers/s', verdict(f.recomputeDrained >= 5_000)],
    [at('full rescore'), `${dec(f.rescore, 1)} s${f.rescoreExtrapolated > 0 ? ` (extrapolated from ${pct(1 - f.rescoreExtrapolated)} done)` : ''}`, `bare aggregate ${dec(f.aggregate, 1)} s`, dec(rescoreRatio, 2), '≤ 1.5×', verdict(rescoreRatio <= 1.5)],
    [at('full rescore vs writing every row'), `${dec(f.rescore, 1)} s`, `bare row update ${dec(f.bareUpdate, 1)} s`, dec(f.rescore / f.bareUpdate, 2), '', ''],
    f.import
      ? ['import', `${int(f.import.rowsPerSec)} rows/s`, `bare COPY ${int(f.import.bareCopyRowsPerSec)} rows/s`, dec(f.import.rowsPerSec / f.import.bareCopyRowsPerSec, 2), '≥ 200,000 rows/s', verdict(f.import.rowsPerSec >= 200_000)]
      : ['import', 'not measured', 'bare COPY', '', '≥ 200,000 rows/s', 'n/a'],
    ['Online Retail file, imported and rescored', f.import?.onlineRetailSeconds != null ? `${dec(f.import.onlineRetailSeconds, 1)} s` : 'not measured', '', '', '< 10 s', f.import?.onlineRetailSeconds != null ? verdict(f.import.onlineRetailSeconds < 10) : 'n/a'],
    ...f.pages.map((p) => [at(`first page: ${p.name}`), `p50 ${dec(p.p50, 1)} ms, p99 ${dec(p.p99, 1)} ms (${p.items} items)`, '', '', 'p99 ≤ 5 ms', verdict(p.p99 <= 5)]),
    [at(`due-review sweep, ${int(f.sweep.due)} due (1%)`), `sweep ${dec(f.sweep.sweepSeconds, 2)} s; until all recomputed ${dec(f.sweep.untilRecomputedSeconds, 2)} s`, `indexed count of the due ${dec(f.sweep.countSeconds * 1000, 1)} ms`, '', '≤ 2 s for 10k due', verdict(f.sweep.untilRecomputedSeconds <= 2)],
    [at('peak RSS, API process'), `${dec(f.rss.api, 0)} MiB`, '', '', '≤ 250 MB', verdict(f.rss.api <= 250)],
    ...f.rss.workers.map((w) => [at(`peak RSS, \`${w.name}\``), `${dec(w.mib, 0)} MiB`, '', '', '≤ 400 MB', verdict(w.mib <= 400)]),
  ];
  const text = `# Benchmark results

Written by \`npm run bench${f.scale === 1 ? '' : ` -- --scale ${f.scale}`}\` on ${new Date().toISOString()}.
Synthetic shop: ${int(f.customers)} customers, ${int(f.orders)} orders (generated in SQL in ${dec(f.generateSeconds, 0)} s;
${f.seed === 'rescore' ? `first rescore to seed state ${dec(f.seedSeconds, 0)} s` : 'state seeded approximately in SQL (`--seed sql`), no first rescore'}). Medians of ${f.runs} runs; the ratio divides each figure by its
same-run baseline. The machine is shared, so compare ratios rather than absolute figures.

Machine: ${v.nproc} CPUs (\`nproc\`), ${dec(totalmem() / 2 ** 30, 1)} GiB memory; node ${process.version}, PostgreSQL ${v.pg}, Redis ${v.redis}.

${table(['figure', 'measured', 'baseline (same run)', 'ratio', 'target', ''], rows.map((r) => (r[1]!.includes('n/a') ? [...r.slice(0, 5), 'not measured'] : r)))}

Full rescore runs: ${f.rescoreRuns.map((s) => dec(s, 1)).join(', ')} s; bare aggregate runs: ${f.aggregateRuns.map((s) => dec(s, 1)).join(', ')} s;
bare row update runs (\`update customers set computed_at = computed_at\` in id batches of 1,000): ${f.bareUpdateRuns.map((s) => dec(s, 1)).join(', ')} s.
Recompute figures: ${int(f.recomputeSample)} customers asked for at once and drained by the worker processes; the
baseline recomputes a quarter as many (at most 1,000), one transaction each, in the benchmark process.
`;
  const path = output ?? fileURLToPath(new URL('./RESULTS.md', import.meta.url));
  await writeFile(path, text);
  return path;
}
