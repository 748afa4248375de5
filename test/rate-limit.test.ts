import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { Config } from '../src/config.ts';
import { buildApp } from '../src/http/app.ts';
import { createDeps, createLogger, type Deps } from '../src/deps.ts';
import { migrateDb } from '../src/store/db.ts';
import { auth, createIsolatedEnv, eventually } from './harness.ts';

/** One API replica listening on a real port. */
interface Replica {
  deps: Deps;
  app: FastifyInstance;
  url: string;
}

async function startReplica(config: Config): Promise<Replica> {
  const deps = createDeps(config, { logger: createLogger(config) });
  const app = await buildApp(deps);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { deps, app, url: `http://127.0.0.1:${port}` };
}

async function stopReplica(r: Replica | undefined): Promise<void> {
  await r?.app.close();
  await r?.deps.close();
}

/** A cheap limited request: an authenticated read of an event that does not exist (404 when admitted). */
const hit = (r: Replica) => fetch(`${r.url}/v1/events/none`, { headers: auth() });

describe('per-key rate limit over HTTP, counted per process and shared through Redis', () => {
  let env: Awaited<ReturnType<typeof createIsolatedEnv>>;
  let config: Config;
  let redis: Redis;
  const replicas: Replica[] = [];
  beforeAll(async () => {
    env = await createIsolatedEnv();
    config = { ...env.config, RATE_LIMIT_MAX: 10, RATE_LIMIT_WINDOW_MS: 60_000, RATE_LIMIT_SYNC_MS: 20 };
    const deps = createDeps(config, { logger: createLogger(config) });
    await migrateDb(deps.db);
    await deps.close();
    redis = new Redis(config.REDIS_URL);
  });
  afterAll(async () => {
    for (const r of replicas) await stopReplica(r);
    redis?.disconnect();
    await env?.drop();
  });

  /** The admin key's count in Redis for the current window. */
  const counted = async () => Number((await redis.get(`${config.QUEUE_PREFIX}:ratelimit:admin-bootstrap`)) ?? 0);
  const countedReaches = (n: number) => eventually(async () => ((await counted()) === n ? true : undefined), 5_000, `Redis count ${n}`);

  it('admits exactly the limit of concurrent requests, then answers 429 problem+json with Retry-After', async () => {
    const a = await startReplica(config);
    replicas.push(a);
    const responses = await Promise.all(Array.from({ length: 15 }, () => hit(a)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(10).fill(404), ...Array(5).fill(429)]);
    const remaining = responses.filter((r) => r.status === 404).map((r) => Number(r.headers.get('x-ratelimit-remaining')));
    expect(remaining.sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const limited = responses.find((r) => r.status === 429)!;
    expect(limited.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await limited.json()).toMatchObject({ status: 429, type: 'https://tierwise.dev/problems/rate_limited' });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('x-ratelimit-limit')).toBe('10');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');

    // Every request, refused ones included, reaches the shared count (as the plugin's Redis store counted them).
    await countedReaches(15);
    await stopReplica(replicas.pop());
    await redis.del(`${config.QUEUE_PREFIX}:ratelimit:admin-bootstrap`);
  });

  it('two replicas sharing a key: each reads the others\' count before deciding on a stale one', async () => {
    const [a, b] = [await startReplica(config), await startReplica(config)];
    replicas.push(a, b);
    for (let i = 0; i < 4; i++) expect((await hit(a)).status).toBe(404);
    await countedReaches(4);
    // B's first request of the window reads A's four from Redis.
    const first = await hit(b);
    expect(first.status).toBe(404);
    expect(first.headers.get('x-ratelimit-remaining')).toBe('5');
    for (let i = 0; i < 4; i++) expect((await hit(b)).status).toBe(404);
    await countedReaches(9);
    // A has not heard from Redis for longer than two syncs: it reads B's five before deciding.
    const tenth = await hit(a);
    expect(tenth.status).toBe(404);
    expect(tenth.headers.get('x-ratelimit-remaining')).toBe('0');
    expect((await hit(a)).status).toBe(429);
    await countedReaches(11);
    expect((await hit(b)).status).toBe(429);
    await stopReplica(replicas.pop());
    await stopReplica(replicas.pop());
    await redis.del(`${config.QUEUE_PREFIX}:ratelimit:admin-bootstrap`);
  });

  it('two replicas under concurrent load: each admits at most the limit, together at least the limit, then both refuse', async () => {
    const [a, b] = [await startReplica(config), await startReplica(config)];
    replicas.push(a, b);
    const burst = (r: Replica) => Promise.all(Array.from({ length: 30 }, () => hit(r).then((res) => res.status)));
    const [fromA, fromB] = await Promise.all([burst(a), burst(b)]);
    const admittedBy = (statuses: number[]) => statuses.filter((s) => s === 404).length;
    expect(admittedBy(fromA)).toBeLessThanOrEqual(10);
    expect(admittedBy(fromB)).toBeLessThanOrEqual(10);
    expect(admittedBy(fromA) + admittedBy(fromB)).toBeGreaterThanOrEqual(10);
    await countedReaches(60);
    expect((await hit(a)).status).toBe(429);
    expect((await hit(b)).status).toBe(429);
  });
});

describe('per-key rate limit while Redis is unreachable', () => {
  let env: Awaited<ReturnType<typeof createIsolatedEnv>>;
  let replica: Replica | undefined;
  beforeAll(async () => {
    env = await createIsolatedEnv();
    const deps = createDeps(env.config, { logger: createLogger(env.config) });
    await migrateDb(deps.db);
    await deps.close();
    // Nothing listens on port 1: every Redis command fails at once.
    replica = await startReplica({ ...env.config, REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_MAX: 3, RATE_LIMIT_WINDOW_MS: 60_000 });
  });
  afterAll(async () => {
    await stopReplica(replica);
    await env?.drop();
  });

  it('still limits each key within the process', async () => {
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await hit(replica!)).status);
    expect(statuses).toEqual([404, 404, 404, 429, 429]);
  });
});

