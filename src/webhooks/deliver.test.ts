import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deliverOnce } from './deliver.ts';
import { generateSecret, webhookHeaders } from './signing.ts';
import { createGuardedDispatcher } from './ssrf.ts';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void;

// A real receiver on 127.0.0.1; the test decides how it answers.
async function startReceiver(handler: Handler) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  servers.push(close);
  return { url: `http://127.0.0.1:${port}/hooks/tierwise`, port, received, close };
}

const servers: Array<() => Promise<void>> = [];
const dispatcher = createGuardedDispatcher({ allowPrivate: true });
const now = () => Date.now();
const BODY = '{"id":"evt_1","type":"webhook.test","created_at":"2025-03-01T12:00:00Z","data":{}}';

afterEach(async () => {
  await Promise.all(servers.splice(0).map((close) => close()));
});
afterAll(async () => {
  await dispatcher.close();
});

function send(url: string, extra: { body?: string; timeoutMs?: number; now?: () => number } = {}) {
  const body = extra.body ?? BODY;
  const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_1' };
  return deliverOnce({ url, body, headers, dispatcher, timeoutMs: extra.timeoutMs, now: extra.now ?? now });
}

describe('deliverOnce', () => {
  it('treats 200 as success and records the response excerpt', async () => {
    const receiver = await startReceiver((_req, res) => res.end('thanks'));
    const result = await send(receiver.url);
    expect(result).toMatchObject({
      outcome: 'success',
      status: 200,
      responseBody: 'thanks',
      error: null,
      retryAfterMs: null,
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]).toMatchObject({ method: 'POST', url: '/hooks/tierwise' });
  });

  it('treats any 2xx as success', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(204).end());
    expect(await send(receiver.url)).toMatchObject({ outcome: 'success', status: 204, responseBody: '' });
  });

  it('treats 500 as failure with the status and body excerpt', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(500).end('database on fire'));
    const result = await send(receiver.url);
    expect(result).toMatchObject({ outcome: 'failure', status: 500, responseBody: 'database on fire', error: null });
  });

  it('treats 410 as gone', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(410).end('endpoint removed'));
    expect(await send(receiver.url)).toMatchObject({ outcome: 'gone', status: 410, responseBody: 'endpoint removed' });
  });

  it('does not follow a 302 and counts it as a failure', async () => {
    const target = await startReceiver((_req, res) => res.end('should never be reached'));
    const redirecting = await startReceiver((_req, res) => res.writeHead(302, { location: target.url }).end());
    const result = await send(redirecting.url);
    expect(result).toMatchObject({ outcome: 'failure', status: 302 });
    expect(redirecting.received).toHaveLength(1);
    expect(target.received).toHaveLength(0);
  });

  it('times out a receiver that never answers', async () => {
    const receiver = await startReceiver(() => undefined);
    const started = Date.now();
    const result = await send(receiver.url, { timeoutMs: 300 });
    expect(result).toMatchObject({ outcome: 'failure', status: null, responseBody: '' });
    expect(result.error).toMatch(/timeout.*300 ms/);
    expect(result.durationMs).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('times out a receiver that sends headers and then stalls the body', async () => {
    const receiver = await startReceiver((_req, res) => {
      res.writeHead(200);
      res.write('partial');
    });
    const result = await send(receiver.url, { timeoutMs: 300 });
    // The 200 already says the receiver took the message; the stall is only noted.
    expect(result).toMatchObject({ outcome: 'success', status: 200 });
    expect(result.error).toMatch(/reading response body: timeout/);
  });

  it('parses Retry-After in seconds and as an HTTP date', async () => {
    const seconds = await startReceiver((_req, res) => res.writeHead(503, { 'retry-after': '120' }).end());
    expect(await send(seconds.url)).toMatchObject({ outcome: 'failure', status: 503, retryAfterMs: 120_000 });

    const fixedNow = Date.parse('2025-03-01T12:00:00Z');
    const dated = await startReceiver((_req, res) =>
      res.writeHead(429, { 'retry-after': 'Sat, 01 Mar 2025 12:10:00 GMT' }).end(),
    );
    expect(await send(dated.url, { now: () => fixedNow })).toMatchObject({ status: 429, retryAfterMs: 600_000 });
  });

  it('keeps only the first 4096 bytes of a large response', async () => {
    const receiver = await startReceiver((_req, res) => res.writeHead(500).end('x'.repeat(10 * 1024)));
    const result = await send(receiver.url);
    expect(result.responseBody).toBe('x'.repeat(4096));
  });

  it('does not split a UTF-8 character at the 4096-byte cut', async () => {
    // 4095 ASCII bytes then a 2-byte "é": the cut falls inside it, so the excerpt stops before it.
    const receiver = await startReceiver((_req, res) => res.writeHead(500).end(`${'a'.repeat(4095)}é and more`));
    const result = await send(receiver.url);
    expect(result.responseBody).toBe('a'.repeat(4095));
  });

  it('sends the exact signed bytes, verifiable with the standardwebhooks package', async () => {
    const secret = generateSecret();
    const body = '{"id":"evt_ü","type":"customer.tier_changed","data":{"tier":"gold","emoji":"🥇"}}';
    let verified: unknown = null;
    const receiver = await startReceiver((req, res, raw) => {
      try {
        verified = new Webhook(secret).verify(raw.toString('utf8'), req.headers as Record<string, string>);
        res.end('ok');
      } catch (err) {
        res.writeHead(400).end(String(err));
      }
    });
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders({ msgId: 'msg_sig', timestamp, body, secrets: [secret] });
    const result = await deliverOnce({ url: receiver.url, body, headers, dispatcher, now });
    expect(result).toMatchObject({ outcome: 'success', status: 200 });
    expect(verified).toEqual(JSON.parse(body));
    const got = receiver.received[0];
    expect(got?.body.equals(Buffer.from(body, 'utf8'))).toBe(true);
    expect(got?.headers).toMatchObject({
      'content-type': 'application/json',
      'user-agent': 'Tierwise-Webhooks/1',
      'webhook-id': 'msg_sig',
      'content-length': String(Buffer.byteLength(body)),
    });
  });

  it('reports a refused connection as a failure', async () => {
    const receiver = await startReceiver(() => undefined);
    await receiver.close();
    const result = await send(receiver.url);
    expect(result).toMatchObject({ outcome: 'failure', status: null });
    expect(result.error).toMatch(/ECONNREFUSED/);
  });

  it('reports an SSRF refusal as a failure without reaching the receiver', async () => {
    const receiver = await startReceiver((_req, res) => res.end('ok'));
    const guarded = createGuardedDispatcher({ allowPrivate: false });
    try {
      const result = await deliverOnce({ url: receiver.url, body: BODY, headers: {}, dispatcher: guarded, now });
      expect(result).toMatchObject({ outcome: 'failure', status: null });
      expect(result.error).toMatch(/target address 127\.0\.0\.1 .*is forbidden/);
      expect(receiver.received).toHaveLength(0);
    } finally {
      await guarded.close();
    }
  });

  it('reports a malformed URL as a failure instead of throwing', async () => {
    const invalid = await send('not a url');
    expect(invalid).toMatchObject({ outcome: 'failure', status: null });
    expect(invalid.error).toMatch(/valid absolute URL/);
    const ftp = await send('ftp://127.0.0.1/');
    expect(ftp).toMatchObject({ outcome: 'failure', status: null });
    expect(ftp.error).toMatch(/http or https/);
  });
});
