import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeps, type Deps } from '../src/deps.ts';
import { buildApp } from '../src/http/app.ts';
import { migrateDb } from '../src/store/db.ts';
import { waitForRedis } from '../src/queues/redis-policy.ts';
import { createIsolatedEnv } from './harness.ts';
import type { Config } from '../src/config.ts';

/** A port nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The app on `config`, with every log line kept. */
async function appWithLog(config: Config) {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
  const deps: Deps = createDeps(config, { logger: pino({ level: 'warn' }, sink) });
  // As `tierwise api` does before serving: the shared connection is lazy (BullMQ may already have
  // started it) and keeps no offline queue, so a first ping before it is ready would fail.
  // An unreachable Redis stays down.
  await waitForRedis(deps.redis, 2_000).catch(() => {});
  const app = await buildApp(deps);
  await app.ready();
  return { app, lines, close: async () => { await app.close(); await deps.close(); } };
}

describe('GET /readyz', () => {
  let env: Awaited<ReturnType<typeof createIsolatedEnv>>;
  beforeAll(async () => {
    env = await createIsolatedEnv();
    const deps = createDeps(env.config);
    await migrateDb(deps.db);
    await deps.close();
  });
  afterAll(async () => env?.drop());

  it('is 200 with every check ok when Postgres, Redis and migrations are fine', async () => {
    const svc = await appWithLog(env.config);
    const res = await svc.app.inject('/readyz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', migrations: 'ok' }, failed: [] });
    await svc.close();
  });

  it('names postgres when the database cannot be reached, and logs the error without echoing it', async () => {
    const url = new URL(env.config.DATABASE_URL);
    url.pathname = '/tierwise_no_such_database_secretname';
    const svc = await appWithLog({ ...env.config, DATABASE_URL: url.toString() });
    const res = await svc.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'unready', checks: { postgres: 'failed', redis: 'ok', migrations: 'unknown' }, failed: ['postgres', 'migrations'] });
    expect(res.body).not.toContain('secretname');
    const logged = svc.lines.map((l) => JSON.parse(l)).find((l) => l.dependency === 'postgres');
    expect(logged?.err?.message).toContain('tierwise_no_such_database_secretname');
    await svc.close();
  });

  it('names redis when Redis does not answer', async () => {
    const port = await closedPort();
    const svc = await appWithLog({ ...env.config, REDIS_URL: `redis://127.0.0.1:${port}` });
    const res = await svc.app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'unready', checks: { postgres: 'ok', redis: 'failed', migrations: 'ok' }, failed: ['redis'] });
    const logged = svc.lines.map((l) => JSON.parse(l)).find((l) => l.dependency === 'redis');
    expect(logged?.err?.message).toBeTruthy();
    expect(res.body).not.toContain(logged.err.message);
    expect(res.body).not.toContain(String(port));
    await svc.close();
  });
});

describe('a URL Fastify cannot read', () => {
  it('is a 400 problem+json, as every other client error', async () => {
    const env = await createIsolatedEnv();
    const svc = await appWithLog(env.config);
    const res = await svc.app.inject('/healthz%zz');
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 400, type: 'https://tierwise.dev/problems/bad_url' });
    await svc.close();
    await env.drop();
  });
});
