import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { inject } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { configSchema, type Config } from '../src/config.ts';
import { createDeps, systemClock, type Clock, type Deps } from '../src/deps.ts';
import { buildApp } from '../src/http/app.ts';
import { migrateDb } from '../src/store/db.ts';
import { startWorkers, type Workers } from '../src/workers/workers.ts';
import { createLogger } from '../src/deps.ts';
import { eventually } from './eventually.ts';

export const ADMIN_KEY = 'test-admin-key-0123456789';

/** A settable clock for tests that move time. */
export function manualClock(start: Date): Clock & { set(d: Date): void; advance(ms: number): void } {
  let current = start.getTime();
  return {
    now: () => new Date(current),
    set: (d) => (current = d.getTime()),
    advance: (ms) => (current += ms),
  };
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Where a test's database and queues live; by default the servers the whole run shares. */
export interface Servers {
  /** A database on the Postgres server to create the test's own database from. */
  databaseUrl: string;
  redisUrl: string;
}

/** A fresh database and queue prefix for one test file; `drop()` removes both. */
export async function createIsolatedEnv(servers: Partial<Servers> = {}): Promise<{ config: Config; drop(): Promise<void> }> {
  const name = `tierwise_test_${randomBytes(5).toString('hex')}`;
  const adminUrl = servers.databaseUrl ?? inject('databaseUrl');
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const config = configSchema.parse({
    DATABASE_URL: withDatabase(adminUrl, name),
    REDIS_URL: servers.redisUrl ?? inject('redisUrl'),
    QUEUE_PREFIX: name,
    TIERWISE_ADMIN_KEY: ADMIN_KEY,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  });
  return {
    config,
    async drop() {
      const redis = new Redis(config.REDIS_URL);
      const keys = await redis.keys(`${name}:*`);
      for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
      await redis.quit();
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

export interface TestService {
  config: Config;
  deps: Deps;
  app: FastifyInstance;
  workers: Workers | undefined;
  close(): Promise<void>;
}

/** The real app and workers against real Postgres and Redis, isolated per call. */
export async function startService(
  options: { config?: Partial<Config>; clock?: Clock; workers?: boolean; logger?: Deps['logger']; servers?: Partial<Servers> } = {},
): Promise<TestService> {
  const env = await createIsolatedEnv(options.servers);
  const config = { ...env.config, ...options.config };
  const deps = createDeps(config, { clock: options.clock ?? systemClock, logger: options.logger ?? createLogger(config) });
  await migrateDb(deps.db);
  const app = await buildApp(deps);
  await app.ready();
  const workers = options.workers === false ? undefined : await startWorkers(deps);
  return {
    config,
    deps,
    app,
    workers,
    async close() {
      await app.close();
      await workers?.close();
      await deps.close();
      await env.drop();
    },
  };
}

export const auth = (key = ADMIN_KEY) => ({ authorization: `Bearer ${key}` });

export { eventually } from './eventually.ts';

/** Every queued event is stored and every recompute has run. */
export async function settle(svc: TestService, expectedEvents: number) {
  await eventually(async () => {
    const stored = (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int n from events`)).rows[0]!.n;
    if (stored < expectedEvents) return undefined;
    const counts = await Promise.all([svc.deps.queues.ingest, svc.deps.queues.recompute].map((q) => q.getJobCounts('waiting', 'active', 'delayed', 'prioritized')));
    return counts.every((c) => Object.values(c).every((n) => n === 0)) ? true : undefined;
  }, 60_000, 'queues to drain');
}


/** A port free at the time of asking (bound to 0, then released), for a process that must be told its port. */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

const BIN = fileURLToPath(new URL('../bin/tierwise.js', import.meta.url));

/** Runs `tierwise <args>` to its end, with `env` over this process's environment. */
export function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

/** A `tierwise worker [args]` process against this service's database and queues, for tests that kill it. */
export function spawnWorker(config: Config, env: Record<string, string> = {}, args: string[] = []): ChildProcess {
  return spawn(process.execPath, [BIN, 'worker', ...args], {
    env: {
      ...process.env,
      DATABASE_URL: config.DATABASE_URL,
      REDIS_URL: config.REDIS_URL,
      QUEUE_PREFIX: config.QUEUE_PREFIX,
      // Short locks so a killed worker's jobs are taken over within seconds.
      JOB_LOCK_MS: '1000',
      // No metrics port unless a test asks for one: test files run side by side.
      METRICS_PORT: '0',
      LOG_LEVEL: 'silent',
      ...env,
    },
    stdio: 'ignore',
  });
}
