/**
 * Import benchmark (see bench/README.md): `tierwise import` rows/s on a synthetic native file against
 * a bare COPY of the same rows into a table with the indexes of `events`, in the same run (rounds
 * interleaved, medians), and the full UCI Online Retail file imported and rescored. Runs in a
 * throwaway database of its own; prints results and returns them.
 *
 *   npx tsx bench/import.bench.ts                                # 1,000,000 rows × 3 rounds
 *   BENCH_IMPORT_ROWS=200000 BENCH_RUNS=1 npx tsx bench/import.bench.ts
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createDeps, type Deps } from '../src/deps.ts';
import { mulberry32 } from '../test/seeded-random.ts';
import { importFile, type ImportResult } from '../src/services/import.service.ts';
import { refreshAndRescore } from '../src/services/rescore.service.ts';
import { migrateDb } from '../src/store/db.ts';
import { NAME, REDIS_URL, benchConfig, checkInterrupted, cleanupStep, dec, handleInterrupts, int, intEnv, machine, median, runMain, sleep, table } from './support.ts';

const SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const RETAIL_FILE = process.env.BENCH_RETAIL_FILE || join(import.meta.dirname, '../../shared/data/online-retail/online-retail.csv.gz');
const CHANNELS = ['online', 'store', 'app', 'marketplace', 'phone', 'other'];

export interface ImportBenchResult {
  rows: number;
  rounds: number;
  import_rows_per_s: number;
  copy_rows_per_s: number;
  ratio: number;
  import_seconds: number[];
  copy_seconds: number[];
  /** median of the Online Retail rounds, null when the file is missing */
  online_retail: { seconds: number; import_seconds: number; rescore_seconds: number; rows: number; orders: number; customers: number } | null;
}

/**
 * `rows` orders of `rows / 10` customers over three years, in time order (as a shop exports them),
 * as a native CSV and, for the baseline, as the COPY text of the very rows the import stores.
 */
async function writeFiles(dir: string, rows: number): Promise<{ csv: string; copy: string }> {
  const csv = createWriteStream(join(dir, 'orders.csv'));
  const copy = createWriteStream(join(dir, 'orders.copy'));
  const next = mulberry32(42);
  const start = Date.UTC(2023, 0, 1);
  const span = 3 * 365 * 86_400_000;
  const receivedAt = new Date().toISOString();
  csv.write('customer_id,order_id,occurred_at,amount,discount_amount,channel,region,category\n');
  let csvChunk = '';
  let copyChunk = '';
  for (let i = 0; i < rows; i++) {
    const customer = `cus-${Math.floor(next() * Math.max(1, rows / 10))}`;
    const order = `ord-${i}`;
    const at = new Date(start + Math.floor((i / rows) * span)).toISOString();
    const amount = (5 + Math.floor(next() * 50_000) / 100).toFixed(2);
    const discount = next() < 0.3 ? (Math.floor(next() * 500) / 100).toFixed(2) : '';
    const channel = CHANNELS[Math.floor(next() * CHANNELS.length)]!;
    const region = ['uk', 'de', 'fr', 'us'][Math.floor(next() * 4)]!;
    const category = ['shirts', 'shoes', 'hats', ''][Math.floor(next() * 4)]!;
    csvChunk += `${customer},${order},${at},${amount},${discount},${channel},${region},${category}\n`;
    const data = { order_id: order, amount, ...(discount ? { discount_amount: discount } : {}), channel, region, ...(category ? { items: [{ category }] } : {}) };
    copyChunk += `import:${customer}:${order}\t${customer}\torder\t${at}\t${receivedAt}\t${order}\t${JSON.stringify(data)}\t\\N\n`;
    if (csvChunk.length > 1 << 20) {
      if (!csv.write(csvChunk)) await once(csv, 'drain');
      if (!copy.write(copyChunk)) await once(copy, 'drain');
      csvChunk = copyChunk = '';
    }
  }
  csv.end(csvChunk);
  copy.end(copyChunk);
  await Promise.all([once(csv, 'finish'), once(copy, 'finish')]);
  return { csv: join(dir, 'orders.csv'), copy: join(dir, 'orders.copy') };
}

/** The baseline: COPY the rows the import stores, already in COPY form, into a fresh table with the indexes of `events`. */
async function bareCopy(deps: Deps, file: string): Promise<number> {
  const client = await deps.pool.connect();
  try {
    await client.query('drop table if exists bare_events; create table bare_events (like events including all)');
    const started = performance.now();
    await pipeline(createReadStream(file, { highWaterMark: 256 * 1024 }), client.query(copyFrom('copy bare_events from stdin')));
    const seconds = (performance.now() - started) / 1000;
    await client.query('drop table bare_events');
    return seconds;
  } finally {
    client.release();
  }
}

async function emptyShop(deps: Deps): Promise<void> {
  await deps.pool.query('truncate events, customers, customer_history, population_stats, webhook_messages, segment_members');
  await deps.pool.query('checkpoint');
}

/**
 * Measures, in `deps`' database (its events and customers are emptied between rounds: give it a
 * database of its own): import rows/s against a bare indexed COPY of the same rows, and the Online
 * Retail file imported and rescored.
 */
export async function benchImport(deps: Deps, options: { rows: number; rounds: number; retailRounds: number; log?: (line: string) => void }): Promise<ImportBenchResult> {
  const log = options.log ?? console.log;
  const dir = await mkdtemp(join(tmpdir(), 'tierwise-import-bench-'));
  try {
    const files = await writeFiles(dir, options.rows);
    const imports: number[] = [];
    const copies: number[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      checkInterrupted();
      await emptyShop(deps);
      copies.push(await bareCopy(deps, files.copy));
      await emptyShop(deps);
      const result: ImportResult = await importFile(deps, { file: files.csv, format: 'native' });
      if (result.orders_imported !== options.rows) throw new Error(`round ${round}: imported ${result.orders_imported} of ${options.rows} rows`);
      imports.push(result.seconds);
      log(`round ${round}: bare COPY ${dec(copies.at(-1)!, 2)} s, import ${dec(result.seconds, 2)} s (reading and staging ${dec(result.read_seconds, 2)} s, storing ${dec(result.store_seconds, 2)} s)`);
    }
    let retail: ImportBenchResult['online_retail'] = null;
    if (existsSync(RETAIL_FILE)) {
      const runs = [];
      for (let round = 1; round <= options.retailRounds; round++) {
        checkInterrupted();
        await emptyShop(deps);
        const started = performance.now();
        const r = await importFile(deps, { file: RETAIL_FILE, format: 'online-retail' });
        const rescoreStarted = performance.now();
        const rescore = await refreshAndRescore(deps);
        const done = performance.now();
        runs.push({
          seconds: (done - started) / 1000, import_seconds: r.seconds, rescore_seconds: (done - rescoreStarted) / 1000,
          rows: r.rows_read, orders: r.orders_imported, customers: rescore.customers,
        });
        log(`Online Retail round ${round}: import ${dec(r.seconds, 2)} s (${int(r.rows_per_second)} rows/s; reading ${dec(r.read_seconds, 2)} s, storing ${dec(r.store_seconds, 2)} s), rescore ${dec(runs.at(-1)!.rescore_seconds, 2)} s`);
      }
      const mid = median(runs.map((r) => r.seconds));
      retail = runs.find((r) => r.seconds === mid) ?? runs.sort((a, b) => a.seconds - b.seconds)[Math.floor(runs.length / 2)]!;
    } else {
      log(`Online Retail file not found at ${RETAIL_FILE} (set BENCH_RETAIL_FILE): skipped`);
    }
    const importRate = options.rows / median(imports);
    const copyRate = options.rows / median(copies);
    return {
      rows: options.rows, rounds: options.rounds,
      import_rows_per_s: importRate, copy_rows_per_s: copyRate, ratio: importRate / copyRate,
      import_seconds: imports, copy_seconds: copies, online_retail: retail,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatImportBench(r: ImportBenchResult): string {
  const rows = [
    ['bare COPY into a table with the indexes of events', int(r.copy_rows_per_s), '1.00', '—'],
    ['tierwise import (native)', int(r.import_rows_per_s), dec(r.ratio, 2), '≥ 200,000 rows/s'],
  ];
  let text = `${int(r.rows)} rows, median of ${r.rounds} round(s)\n\n${table(['', 'rows/s', '÷ bare COPY', 'target'], rows)}\n`;
  if (r.online_retail) {
    const o = r.online_retail;
    text += `\nOnline Retail (${int(o.rows)} lines → ${int(o.orders)} orders, ${int(o.customers)} customers): ` +
      `${dec(o.seconds, 2)} s in all = import ${dec(o.import_seconds, 2)} s + rescore ${dec(o.rescore_seconds, 2)} s (target < 10 s)\n`;
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// Run alone: a throwaway database `<NAME>_import`, dropped at the end (also after a failure or Ctrl-C).

/**
 * Runs `benchImport` in a throwaway database `<NAME>_import` with its own queue prefix, both dropped
 * at the end (also after a failure), so it can run alone or inside the scale benchmark.
 */
export async function runImportBench(options: { rows: number; rounds: number; retailRounds: number; log?: (line: string) => void }): Promise<ImportBenchResult> {
  const database = `${NAME}_import`;
  const prefix = `${NAME}_import`;
  const server = new URL(SERVER_URL);
  server.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: server.toString() });
  await admin.connect();
  await admin.query(`create database "${database}"`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  const deps = createDeps(benchConfig({ DATABASE_URL: url.toString(), QUEUE_PREFIX: prefix }));
  try {
    await migrateDb(deps.db);
    (options.log ?? console.log)(`import benchmark: ${machine()}; database ${database}`);
    return await benchImport(deps, options);
  } finally {
    await cleanupStep('closing connections', () => deps.close());
    await cleanupStep(`dropping database ${database}`, async () => {
      // pool.end() resolves before its backends are gone; dropping `with (force)` then would kill them mid-close.
      for (let i = 0; i < 100; i++) {
        const { rows } = await admin.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1', [database]);
        if (rows[0]!.n === 0) break;
        await sleep(50);
      }
      await admin.query(`drop database if exists "${database}" with (force)`);
    });
    await admin.end();
    // The rescore may nudge the webhook relay: its queue keys live under this run's prefix.
    await cleanupStep(`deleting Redis keys ${prefix}:*`, async () => {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      try {
        for (let cursor = '0'; ; ) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          if (keys.length > 0) await redis.unlink(...keys);
          if ((cursor = next) === '0') break;
        }
      } finally {
        redis.disconnect();
      }
    });
  }
}

async function main(): Promise<number> {
  handleInterrupts();
  const result = await runImportBench({
    rows: intEnv('BENCH_IMPORT_ROWS', 1_000_000),
    rounds: intEnv('BENCH_RUNS', 3),
    retailRounds: intEnv('BENCH_RETAIL_RUNS', 3),
  });
  console.log(`\n${formatImportBench(result)}`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) runMain(main);
