import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startService, type TestService } from './harness.ts';

const event = (id: string) =>
  JSON.stringify({ id, type: 'order', customer_id: 'bb-c', occurred_at: '2026-10-01T10:00:00Z', order_id: `o-${id}`, amount: '10.00' });

describe('request bodies held at once', () => {
  let svc: TestService;
  let port: number;
  beforeAll(async () => {
    svc = await startService({ workers: false, config: { MAX_BODY_BYTES_IN_FLIGHT: 200 } });
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    port = (svc.app.server.address() as { port: number }).port;
  });
  afterAll(async () => svc?.close());

  const post = (body: string) =>
    fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body,
    });

  it('answers 503 with Retry-After while other bodies hold the budget, and accepts again once they are answered', async () => {
    const held = event('bb-held');
    // A body of ~130 bytes (of the 200 allowed) announced and mostly sent: the bytes read stay held until it is answered.
    const slow = httpRequest({
      host: '127.0.0.1', port, method: 'POST', path: '/v1/events',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}`, 'content-length': Buffer.byteLength(held) },
    });
    const slowAnswer = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => (res.resume(), resolve(res.statusCode!)));
      slow.on('error', reject);
    });
    slow.write(held.slice(0, 100));
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      const refused = await post(event('bb-refused'));
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('1');
      expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    } finally {
      slow.end(held.slice(100));
    }
    expect(await slowAnswer).toBe(202);
    expect((await post(event('bb-after'))).status).toBe(202);
  });
});
