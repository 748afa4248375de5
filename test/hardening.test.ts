import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createDeps, createLogger, type Deps } from '../src/deps.ts';
import { buildApp } from '../src/http/app.ts';
import { auth, eventually, startService, type TestService } from './harness.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('two replicas, request ids and /metrics', () => {
  let svc: TestService;
  let replicaDeps: Deps;
  let replica: FastifyInstance;
  beforeAll(async () => {
    svc = await startService({ workers: false });
    // A second replica: its own process state (key cache, pools) over the same database and Redis.
    replicaDeps = createDeps(svc.config, { logger: createLogger(svc.config) });
    replica = await buildApp(replicaDeps);
    await replica.ready();
  });
  afterAll(async () => {
    await replica?.close();
    await replicaDeps?.close();
    await svc?.close();
  });

  it('refuses a key revoked through one replica on the other within a second', async () => {
    const created = await svc.app.inject({ method: 'POST', url: '/v1/api-keys', headers: auth(), payload: { name: 'shop', scopes: ['customers:read'] } });
    expect(created.statusCode, created.body).toBe(201);
    const { id, key } = created.json() as { id: string; key: string };
    // The other replica has the key in its cache.
    expect((await replica.inject({ method: 'GET', url: '/v1/segments', headers: auth(key) })).statusCode).toBe(200);
    expect((await replica.inject({ method: 'GET', url: '/v1/segments', headers: auth(key) })).statusCode).toBe(200);
    // Both replicas listen for revocations.
    await eventually(async () => {
      const [, listeners] = (await svc.deps.redis.call('pubsub', 'numsub', `${svc.config.QUEUE_PREFIX}:api-keys:revoked`)) as [string, number];
      return listeners >= 2 ? true : undefined;
    }, 5_000, 'both replicas subscribed');

    expect((await svc.app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: auth() })).statusCode).toBe(204);
    const revokedAt = Date.now();
    await eventually(async () => ((await replica.inject({ method: 'GET', url: '/v1/segments', headers: auth(key) })).statusCode === 401 ? true : undefined), 1_000, 'the revoked key refused on the other replica');
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
  });

  it('echoes a short safe x-request-id and replaces any other with a UUID', async () => {
    const ok = await svc.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-42:a.b_c' } });
    expect(ok.headers['x-request-id']).toBe('trace-42:a.b_c');
    for (const bad of ['x'.repeat(8_000), 'x'.repeat(129), 'has space', '<script>', 'ünï']) {
      const res = await svc.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': bad } });
      expect(res.headers['x-request-id']).toMatch(UUID);
    }
    expect((await svc.app.inject({ method: 'GET', url: '/healthz' })).headers['x-request-id']).toMatch(UUID);
    expect('x'.repeat(128)).toBe((await svc.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'x'.repeat(128) } })).headers['x-request-id']);
  });

  it('serves /metrics without a token by default', async () => {
    const res = await svc.app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('# HELP');
  });
});

describe('/metrics with METRICS_TOKEN', () => {
  let svc: TestService;
  const TOKEN = 'metrics-token-0123456789';
  beforeAll(async () => {
    svc = await startService({ workers: false, config: { METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => svc?.close());

  it('answers 401 problems without the token or with another, and the metrics with it', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token-0123456789' }, { authorization: `Basic ${TOKEN}` }]) {
      const res = await svc.app.inject({ method: 'GET', url: '/metrics', headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const res = await svc.app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('# HELP');
  });
});
