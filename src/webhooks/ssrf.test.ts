import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenTargetError, createGuardedDispatcher, validateWebhookUrl } from './ssrf.ts';

describe('validateWebhookUrl', () => {
  it.each([
    'https://hooks.example.com/tierwise',
    'http://hooks.example.com:8080/x?y=1',
    'https://8.8.8.8/hook',
    'https://[2606:4700:4700::1111]:8443/hook',
  ])('accepts %s', (raw) => {
    const result = validateWebhookUrl(raw);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.url.href).toBe(new URL(raw).href);
  });

  it.each([
    ['not a url', /valid absolute URL/],
    ['/relative/path', /valid absolute URL/],
    ['ftp://example.com/x', /http or https/],
    ['file:///etc/passwd', /http or https/],
    ['javascript:alert(1)', /http or https/],
    ['https://user:pass@example.com/', /username or password/],
    ['https://user@example.com/', /username or password/],
    ['http://127.0.0.1:6379/', /forbidden address \(loopback\)/],
    ['http://169.254.169.254/latest/meta-data', /forbidden address \(linkLocal\)/],
    ['http://[::1]/', /forbidden address \(loopback\)/],
    ['http://[::ffff:10.0.0.1]/', /forbidden address \(private\)/],
    ['http://2130706433/', /forbidden address \(loopback\)/], // the URL parser normalizes to 127.0.0.1
    ['http://0x7f.1/', /forbidden address \(loopback\)/],
    ['http://localhost:3000/', /localhost/],
    ['http://api.localhost/', /localhost/],
  ])('refuses %s', (raw, message) => {
    const result = validateWebhookUrl(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });

  it('lets private literals through when private targets are allowed', () => {
    expect(validateWebhookUrl('http://127.0.0.1:8080/', { allowPrivate: true }).ok).toBe(true);
    expect(validateWebhookUrl('http://localhost:8080/', { allowPrivate: true }).ok).toBe(true);
    expect(validateWebhookUrl('ftp://127.0.0.1/', { allowPrivate: true }).ok).toBe(false);
  });
});

describe('createGuardedDispatcher', () => {
  let server: http.Server;
  let port = 0;
  let hits = 0;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function get(url: string, dispatcher: ReturnType<typeof createGuardedDispatcher>) {
    try {
      const res = await request(url, { dispatcher });
      return { status: res.statusCode, body: await res.body.text() };
    } finally {
      await dispatcher.close();
    }
  }

  it('refuses a loopback literal when private targets are not allowed', async () => {
    const before = hits;
    const attempt = get(`http://127.0.0.1:${port}/`, createGuardedDispatcher({ allowPrivate: false }));
    await expect(attempt).rejects.toBeInstanceOf(ForbiddenTargetError);
    await expect(attempt).rejects.toThrow(/target address 127\.0\.0\.1 .* is forbidden \(loopback\)/);
    expect(hits).toBe(before);
  });

  it('refuses localhost after resolving it', async () => {
    const before = hits;
    const attempt = get(`http://localhost:${port}/`, createGuardedDispatcher({ allowPrivate: false }));
    await expect(attempt).rejects.toThrow(/target address (127\.0\.0\.1|::1) for localhost is forbidden/);
    expect(hits).toBe(before);
  });

  it('refuses when any resolved address is forbidden, without connecting anywhere', async () => {
    const lookup = async () => ['8.8.8.8', '10.1.2.3'];
    const attempt = get('http://mixed.example.test/', createGuardedDispatcher({ allowPrivate: false, lookup }));
    await expect(attempt).rejects.toThrow(/10\.1\.2\.3 for mixed\.example\.test is forbidden \(private\)/);
  });

  it('allows loopback when private targets are allowed', async () => {
    const res = await get(`http://127.0.0.1:${port}/`, createGuardedDispatcher({ allowPrivate: true }));
    expect(res).toEqual({ status: 200, body: 'ok' });
  });

  it('allows localhost when private targets are allowed, whichever family resolves first', async () => {
    const res = await get(`http://localhost:${port}/`, createGuardedDispatcher({ allowPrivate: true }));
    expect(res.status).toBe(200);
  });

  it('connects to the vetted address, not to a second resolution of the name', async () => {
    // The name exists only in this fake resolver, so reaching the server proves the socket went
    // to the address the guard checked (pinning) and not through another DNS lookup.
    const seen: string[] = [];
    const lookup = async (hostname: string) => {
      seen.push(hostname);
      return ['::1', '127.0.0.1'];
    };
    const res = await get(
      `http://pinned.example.test:${port}/`,
      createGuardedDispatcher({ allowPrivate: true, lookup }),
    );
    expect(res.status).toBe(200);
    expect(seen).toEqual(['pinned.example.test']);
  });

  it('keeps the host name as TLS servername (SNI) while connecting to the pinned address', async () => {
    // A bare TCP listener captures the ClientHello; SNI travels in it as plain ASCII.
    let hello: Buffer = Buffer.alloc(0);
    const sniffer = net.createServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        hello = chunk;
        socket.destroy();
      });
    });
    await new Promise<void>((resolve) => sniffer.listen(0, '127.0.0.1', resolve));
    const { port: tlsPort } = sniffer.address() as AddressInfo;
    try {
      const lookup = async () => ['127.0.0.1'];
      const attempt = get(`https://sni.example.test:${tlsPort}/`, createGuardedDispatcher({ allowPrivate: true, lookup }));
      await expect(attempt).rejects.toThrow();
      expect(hello.includes('sni.example.test')).toBe(true);
    } finally {
      await new Promise((resolve) => sniffer.close(resolve));
    }
  });

  it('reports resolver failures as connection errors', async () => {
    const lookup = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.example.test'), { code: 'ENOTFOUND' });
    };
    const attempt = get('http://nowhere.example.test/', createGuardedDispatcher({ allowPrivate: true, lookup }));
    await expect(attempt).rejects.toThrow(/ENOTFOUND/);
  });
});
