import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, startService, type TestService } from './harness.ts';

const event = (id: string) =>
  JSON.stringify({ id, type: 'order', customer_id: 'bb-c', occurred_at: '2026-10-01T10:00:00Z', order_id: `o-${id}`, amount: '10.00' });

describe('request bodies held at once', () => {
  let svc: TestService;
  let port: number;
  beforeAll(async () => {
    svc = await startService({ workers: false, config: { MAX_BODY_BYTES_IN_FLIGHT: 200, MAX_KEYLESS_BODY_BYTES_IN_FLIGHT: 200 } });
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

  it('gives back the bytes of a body sent to a route that answers without reading it', async () => {
    // Each body alone fits the keyless budget of 200 bytes; five would hold it for good if they stayed counted.
    for (let i = 0; i < 5; i++) {
      const body = JSON.stringify({ pad: 'x'.repeat(140) });
      const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path: '/healthz', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      // The answer comes before the body is sent: the body is read, and counted, after it.
      const answered = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => (res.resume(), resolve(res.statusCode!)));
        req.on('error', reject);
      });
      req.flushHeaders();
      expect(await answered).toBe(200);
      await new Promise<void>((resolve) => req.end(body, resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // A Segment call with its write key in the body has no key until the body is read: the keyless budget.
    const track = await fetch(`http://127.0.0.1:${port}/compat/segment/v1/track`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ writeKey: ADMIN_KEY, userId: 'bb-c', event: 'Email Opened' }),
    });
    expect(track.status, await track.text()).toBe(200);
  });

  it('refuses the body of a route that never reads it, while others hold the budget, without an unheard error', async () => {
    // A keyless Segment call holds 150 of the 200 keyless bytes while the rest of its body is coming.
    const full = JSON.stringify({ writeKey: ADMIN_KEY, type: 'track', userId: 'bb-c', event: 'Email Opened', pad: 'x'.repeat(60) });
    const slow = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/compat/segment/v1/track', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(full) } });
    const slowAnswer = new Promise<number>((resolve, reject) => {
      slow.on('response', (res) => (res.resume(), resolve(res.statusCode!)));
      slow.on('error', reject);
    });
    slow.write(full.slice(0, 150));
    await new Promise((resolve) => setTimeout(resolve, 200));
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ pad: 'x'.repeat(90) });
        const req = httpRequest({ host: '127.0.0.1', port, method: 'GET', path: '/healthz', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
        req.on('response', (res) => (res.resume(), resolve(res.statusCode!)));
        req.on('error', reject);
        req.end(body);
      });
      expect(status).toBe(200);
    } finally {
      slow.end(full.slice(150));
    }
    expect(await slowAnswer).toBe(200);
  });
});
