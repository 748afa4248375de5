import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, eventually, startService, type TestService } from './harness.ts';

/** A raw socket that records what it receives and when it closes. */
interface RawClient {
  socket: net.Socket;
  received(): string;
  closed: Promise<number>;
}

function connect(port: number, first: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    let data = '';
    const opened = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - opened)));
    socket.on('data', (chunk) => (data += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(first);
      resolve({ socket, received: () => data, closed });
    });
    socket.once('error', reject);
  });
}

const head = (path: string, headers: Record<string, string | number>) =>
  `POST ${path} HTTP/1.1\r\nhost: tierwise\r\ncontent-type: application/json\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;

describe('hostile clients: timeouts and body budgets', () => {
  let svc: TestService;
  let port: number;
  let n = 0;
  const keyedPost = async () => {
    n += 1;
    const res = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify({ id: `keyed-${n}`, type: 'order', customer_id: 'k-1', occurred_at: '2026-01-01T00:00:00Z', order_id: `o-${n}`, amount: '1.00' }),
      signal: AbortSignal.timeout(5_000),
    });
    await res.body?.cancel();
    return res.status;
  };

  beforeAll(async () => {
    svc = await startService({
      workers: false,
      config: {
        HTTP_HEADERS_TIMEOUT_MS: 1_000,
        HTTP_REQUEST_TIMEOUT_MS: 2_000,
        HTTP_IDLE_TIMEOUT_MS: 10_000,
        MAX_BODY_BYTES_IN_FLIGHT: 1024 * 1024,
        MAX_KEYLESS_BODY_BYTES_IN_FLIGHT: 4_000,
      },
    });
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    port = (svc.app.server.address() as { port: number }).port;
  });
  afterAll(async () => svc?.close());

  it('keeps answering keyed ingest while slowloris and slow-body clients stall, then drops them', { timeout: 30_000 }, async () => {
    // 200 keyless Segment calls that declare a 500 KB body (100 MB in all, far past both budgets) and send one byte.
    const slowBodies = await Promise.all(
      Array.from({ length: 200 }, () => connect(port, `${head('/compat/segment/v1/batch', { 'content-length': 500_000 })}{`)),
    );
    // Keyed requests that declare a big body and send one byte.
    const slowKeyed = await Promise.all(
      Array.from({ length: 20 }, () => connect(port, `${head('/v1/events', { 'content-length': 900_000, authorization: `Bearer ${ADMIN_KEY}` })}{`)),
    );
    // Half-sent headers.
    const slowloris = await Promise.all(Array.from({ length: 20 }, () => connect(port, 'POST /v1/events HTTP/1.1\r\nhost: tierwise\r\nx-slow: ')));
    const stalled = [...slowBodies, ...slowKeyed, ...slowloris];

    for (let i = 0; i < 20; i += 1) expect(await keyedPost()).toBe(202);

    // Every stalled socket is closed by the header or request timeout (1 s / 2 s, checked every 500 ms).
    const lifetimes = await Promise.all(stalled.map((c) => c.closed));
    expect(Math.max(...lifetimes)).toBeLessThan(6_000);
    expect(Math.min(...lifetimes.slice(-20))).toBeGreaterThanOrEqual(900);
    // A slow body is told why (408 Request Timeout) before the close.
    expect(slowBodies[0]!.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(await keyedPost()).toBe(202);
  });

  it('authenticates a header key before reading any of the body', async () => {
    const client = await connect(port, head('/v1/events', { 'content-length': 800_000, authorization: 'Bearer not-a-key' }));
    const answer = await eventually(async () => (client.received().includes('\r\n\r\n') ? client.received() : undefined), 3_000, 'an answer');
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
    expect(answer).toMatch(/content-type: application\/problem\+json/i);
    client.socket.destroy();
    const segment = await connect(port, head('/compat/segment/v1/batch', { 'content-length': 400_000, authorization: `Basic ${Buffer.from('not-a-key:').toString('base64')}` }));
    const segmentAnswer = await eventually(async () => (segment.received().includes('\r\n\r\n') ? segment.received() : undefined), 3_000, 'an answer');
    expect(segmentAnswer).toMatch(/^HTTP\/1\.1 401/);
    segment.socket.destroy();
  });

  it('gives bodies without a header key a budget of their own, counted in bytes read', async () => {
    // Two keyless bodies that really send 3,000 bytes each: the second passes the 4,000-byte keyless budget.
    const first = await connect(port, `${head('/compat/segment/v1/batch', { 'content-length': 400_000 })}{"batch":[${' '.repeat(3_000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await connect(port, `${head('/compat/segment/v1/batch', { 'content-length': 400_000 })}{"batch":[${' '.repeat(3_000)}`);
    const refused = await eventually(async () => (second.received().includes('\r\n\r\n') ? second.received() : undefined), 3_000, 'a refusal');
    expect(refused).toMatch(/^HTTP\/1\.1 503/);
    expect(refused).toMatch(/retry-after: 1/i);
    // Keyed clients draw on their own budget and are not affected.
    expect(await keyedPost()).toBe(202);
    first.socket.destroy();
    second.socket.destroy();
    // Once the keyless bodies are gone, a keyless call with its write key in the body is served.
    await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/compat/segment/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ writeKey: ADMIN_KEY, batch: [{ type: 'identify', userId: 'u-1', traits: { email: 'a@b.example' } }] }),
      });
      return res.status === 200 ? true : undefined;
    }, 5_000, 'a keyless call served');
  });
});
