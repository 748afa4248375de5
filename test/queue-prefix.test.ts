import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.ts';
import { auth, eventually, startService, type TestService } from './harness.ts';

describe('QUEUE_PREFIX', () => {
  it.each(['tierwise', 'shop-a:tierwise', '{tierwise}', '{shop.a_1}'])('accepts %s', (prefix) => {
    expect(configSchema.safeParse({ DATABASE_URL: 'postgres://x/y', QUEUE_PREFIX: prefix }).success).toBe(true);
  });
  it.each(['{tierwise', 'tier{wise}', '{}', '{a}{b}', 'a b', ''])('refuses %j, naming the variable', (prefix) => {
    const parsed = configSchema.safeParse({ DATABASE_URL: 'postgres://x/y', QUEUE_PREFIX: prefix });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.path).toEqual(['QUEUE_PREFIX']);
  });
});

// Redis Cluster needs every key of a deployment in one slot: a hash-tagged prefix (docs/scaling.md).
describe('a hash-tagged queue prefix', () => {
  const prefix = `{tierwise_tag_${randomBytes(4).toString('hex')}}`;
  let svc: TestService;
  beforeAll(async () => {
    svc = await startService({ config: { QUEUE_PREFIX: prefix } });
  });
  afterAll(async () => {
    const keys = await svc?.deps.redis.keys(`${prefix}:*`);
    if (keys?.length) await svc.deps.redis.del(...keys);
    await svc?.close();
  });

  it('stores an event and recomputes its customer, with every key under the tag', async () => {
    const res = await svc.app.inject({
      method: 'POST',
      url: '/v1/events',
      headers: auth(),
      payload: { id: 'tag-1', type: 'order', customer_id: 'tagged', occurred_at: '2026-06-01T00:00:00Z', order_id: 'o-1', amount: '12.50' },
    });
    expect(res.statusCode).toBe(202);
    const customer = await eventually<{ metrics: { net_revenue: string } }>(async () => {
      const r = await svc.app.inject({ method: 'GET', url: '/v1/customers/tagged', headers: auth() });
      return r.statusCode === 200 && r.json().metrics?.order_count === 1 ? r.json() : undefined;
    }, 30_000, 'the customer recomputed');
    expect(customer.metrics.net_revenue).toBe('12.50');
    const keys = await svc.deps.redis.keys('*tierwise_tag_*');
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith(`${prefix}:`))).toBe(true);
  });
});
