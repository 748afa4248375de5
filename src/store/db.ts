import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import * as schema from './schema.ts';

// numeric stays a string (exact money); int8 counts fit in a JS number.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Db = NodePgDatabase<typeof schema>;
/** A database handle or an open transaction: repositories take either. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * A pool of at most `max` connections. `role` names it in pg_stat_activity (`tierwise-api`,
 * `tierwise-worker`, `tierwise-export`); `waitMs` bounds how long a caller waits for a free
 * connection (0: forever).
 */
export function createPool(url: string, max = 10, role?: string, waitMs = 0): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: role ? `tierwise-${role}` : 'tierwise',
    connectionTimeoutMillis: waitMs,
  });
  // The pool listens for errors only on idle connections. One checked out (a transaction between
  // two statements, an export stream) whose server goes away, in a restart, would emit an 'error'
  // nobody hears: an uncaught exception that ends the process. Heard here, it is harmless: the
  // connection's next statement fails (so the job or request fails and is retried) and the pool
  // discards it on release.
  pool.on('connect', (client) => client.on('error', () => {}));
  // The same for an idle connection: the pool discards it and re-emits the error on itself, where an
  // unheard 'error' would end the process too. Processes log it with a listener of their own (deps.ts).
  pool.on('error', () => {});
  return pool;
}

export function createDb(pool: pg.Pool): Db {
  const db = drizzle(pool, { schema });
  // drizzle-orm's transaction on a pool releases its connection only once BEGIN has succeeded: each
  // BEGIN lost to a Postgres restart kept one connection checked out for good, until the pool had
  // none left and every caller waited forever. So a transaction checks its connection out here and
  // runs drizzle's transaction on that one connection, which is released whatever fails (and
  // discarded when Postgres went away).
  const onConnection = new WeakMap<pg.PoolClient, Db>();
  const transaction: Db['transaction'] = async (run, config) => {
    const client = await pool.connect();
    let failure: Error | undefined;
    try {
      let scoped = onConnection.get(client);
      if (!scoped) onConnection.set(client, (scoped = drizzle(client, { schema }) as unknown as Db));
      return await scoped.transaction(run, config);
    } catch (err) {
      if (isDatabaseUnavailable(err)) failure = err as Error;
      throw err;
    } finally {
      client.release(failure);
    }
  };
  db.transaction = transaction;
  return db;
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url));

export async function migrateDb(db: Db): Promise<void> {
  await migrate(db, { migrationsFolder: MIGRATIONS_FOLDER });
}

/** Creates the database named in `url` if it does not exist yet; true when it did so. */
export async function ensureDatabase(url: string): Promise<boolean> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return false;
  } catch (err) {
    if ((err as { code?: string }).code !== '3D000') throw err;
  } finally {
    await probe.end().catch(() => {});
  }
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  target.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: target.toString() });
  await admin.connect();
  try {
    await admin.query(`create database "${name.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }
  return true;
}

/** What Postgres said about a failed statement: its SQLSTATE and message, without the query or its parameters. */
export interface DbFailure {
  code: string | undefined;
  message: string;
}

/**
 * The Postgres error behind `err` (drizzle wraps it in an error whose message holds the whole
 * query and every parameter, an ingest job's payload included: never log that one).
 */
export function dbFailureOf(err: unknown): DbFailure {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return { code, message: e.message };
    if (!(e.cause instanceof Error)) break;
    e = e.cause;
  }
  const inner = e instanceof Error ? e : err;
  const message = inner instanceof Error ? inner.message : String(inner);
  // A wrapper's message holds the query and its parameters: keep its first line only.
  return { code: undefined, message: message.startsWith('Failed query:') ? 'query failed' : message.split('\n', 1)[0]!.slice(0, 500) };
}

/**
 * Whether Postgres refused the data itself, so running the same statement again can never succeed:
 * SQLSTATE class 22 (data exception: a bad value, out of range, NUL in text, a malformed escape),
 * 23 (integrity constraint) and 54 (a value past an implementation limit). Anything else — a lost
 * connection, a restart, a timeout, a serialization failure, a deadlock — may pass on retry.
 */
export function isDataError(err: unknown): boolean {
  const { code } = dbFailureOf(err);
  return code !== undefined && /^(22|23|54)/.test(code);
}

/** Errors of the socket to Postgres: the server is down, restarting or unreachable. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether `err` says Postgres cannot be reached right now rather than that the statement is wrong:
 * no connection (refused, reset, timed out, lost mid-statement) or the server shutting down or
 * starting (SQLSTATE class 08, 57P01–57P03). Such a request may succeed when retried shortly.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_ERRNOS.has(code) || /^08|^57P0[123]$/.test(code))) return true;
    if (/^Connection terminated|^Client has encountered a connection error/.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}
