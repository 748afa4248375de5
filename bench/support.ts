/**
 * Shared by the benchmarks in bench/: environment knobs, the throwaway database and queue prefix,
 * Ctrl-C handling, the main() wrapper and the formatting of results.
 */
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { configSchema, type Config } from '../src/config.ts';

const SERVER_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** The throwaway database and queue prefix of this run. */
export const NAME = `tierwise_bench_${randomBytes(6).toString('hex')}`;

/** An integer ≥ min from the environment (underscores allowed: 1_000_000), or the fallback when unset. */
export function intEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** "node v20…, 2 CPU(s), load average …" for the first line of a benchmark's output. */
export function machine(): string {
  return `node ${process.version}, ${cpus().length} CPU(s), load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}`;
}

// ---------------------------------------------------------------------------------------------
// Interruption: the first SIGINT/SIGTERM makes checkInterrupted() throw (so main() still cleans
// up); a second one quits at once.

let interrupted = false;

export function handleInterrupts(onInterrupt?: () => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      console.error(`\n${signal}: stopping and cleaning up (send it again to quit without cleanup)`);
      onInterrupt?.();
    });
  }
}

export function checkInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

/** Runs main() and exits with its code; anything still holding the loop open after cleanup must not hang the benchmark. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
      setTimeout(() => {
        console.error('forcing exit: handles still open after cleanup');
        process.exit(code);
      }, 5_000).unref();
    },
    (err: unknown) => {
      const code = interrupted ? 130 : 1;
      if (interrupted) console.error('interrupted; no results.');
      else console.error('benchmark failed:', err);
      process.exitCode = code;
      setTimeout(() => process.exit(code), 5_000).unref();
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Setup and teardown of the throwaway database and queue prefix.

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A client on DATABASE_URL's server: its own database, or `postgres` when that one does not exist. */
async function serverClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: SERVER_URL });
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    if ((err as { code?: string }).code !== '3D000') throw err;
    const fallback = new pg.Client({ connectionString: withDatabase(SERVER_URL, 'postgres') });
    await fallback.connect();
    return fallback;
  }
}

/** The service's configuration for this run's database and queue prefix, quiet logs, plus `overrides`. */
export function benchConfig(overrides: Record<string, unknown>): Config {
  return configSchema.parse({
    DATABASE_URL: withDatabase(SERVER_URL, NAME),
    REDIS_URL,
    QUEUE_PREFIX: NAME,
    LOG_LEVEL: 'warn',
    ...overrides,
  });
}

export async function createDatabase(): Promise<void> {
  const client = await serverClient();
  try {
    await client.query(`create database "${NAME}"`);
  } finally {
    await client.end();
  }
}

/**
 * pool.end() resolves before its connections have finished closing; dropping `with (force)` at
 * that moment kills them and the pool logs "terminating connection" errors. So wait (briefly) for
 * the backends to go away first; `with (force)` then only matters when something really hangs.
 */
async function dropDatabase(): Promise<void> {
  const client = await serverClient();
  try {
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where datname = $1', [NAME]);
      if (rows[0]!.n === 0) break;
      await sleep(50);
    }
    await client.query(`drop database if exists "${NAME}" with (force)`);
  } finally {
    await client.end();
  }
}

async function deleteRedisKeys(prefix: string): Promise<number> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  } finally {
    redis.disconnect();
  }
}

/** One cleanup step: a failure is logged and reported as false, so the later steps still run. */
export async function cleanupStep(what: string, fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (err) {
    console.error(`cleanup: ${what} failed:`, err);
    return false;
  }
}

/** The last cleanup steps: delete the queue prefix's Redis keys and drop the database. */
export async function removeThrowaways(): Promise<void> {
  const keysDeleted = await cleanupStep(`deleting Redis keys ${NAME}:*`, () => deleteRedisKeys(NAME));
  const dropped = await cleanupStep(`dropping database ${NAME}`, dropDatabase);
  if (keysDeleted && dropped) console.log(`\nCleaned up: database ${NAME} dropped, Redis keys ${NAME}:* deleted.`);
}

/** Starts the app listening on a free local port; returns its base URL. */
export async function listenLocal(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error(`unexpected listen address ${String(address)}`);
  return `http://127.0.0.1:${address.port}`;
}

// ---------------------------------------------------------------------------------------------
// Statistics and formatting.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
export const dec = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
/** A share as a whole percentage (listing.bench.ts prints one decimal, with its own pct). */
export const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n * 100)}%` : 'n/a');

/** A markdown table. */
export function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}
