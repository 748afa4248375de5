import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, settle, startService, type TestService } from './harness.ts';

const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const NUL = '\\u0000';
const LONE = '\\ud800';
const rule = { field: 'order_count', op: 'gte', value: 0 };
const policyWithName = (name: string) =>
  `{"tiers":[{"key":"vip","name":"${name}","rule":{"field":"order_count","op":"gte","value":5}},{"key":"regular","name":"Regular","rule":null}]}`;

interface Case {
  name: string;
  method?: string;
  path: string;
  /** a raw JSON text, so escapes such as \u0000 reach the server as sent */
  body?: string;
  headers?: Record<string, string>;
  /** the field the problem names, when it names one */
  field?: string;
}

const CASES: Case[] = [
  // NUL in path values
  { name: 'NUL in an event id', path: '/v1/events/a%00b', field: 'params.id' },
  { name: 'NUL in a customer id', path: '/v1/customers/a%00b', field: 'params.id' },
  { name: 'NUL in a customer id (history)', path: '/v1/customers/a%00b/history', field: 'params.id' },
  { name: 'NUL in a customer id (delete)', method: 'DELETE', path: '/v1/customers/a%00b', field: 'params.id' },
  { name: 'NUL in an api key id (delete)', method: 'DELETE', path: '/v1/api-keys/a%00b', field: 'params.id' },
  { name: 'NUL in a webhook id', path: '/v1/webhooks/a%00b', field: 'params.id' },
  { name: 'NUL in a webhook id (patch)', method: 'PATCH', path: '/v1/webhooks/a%00b', body: '{"enabled":true}', field: 'params.id' },
  { name: 'NUL in a webhook id (delete)', method: 'DELETE', path: '/v1/webhooks/a%00b', field: 'params.id' },
  { name: 'NUL in a webhook id (deliveries)', path: '/v1/webhooks/a%00b/deliveries', field: 'params.id' },
  { name: 'NUL in a webhook id (test)', method: 'POST', path: '/v1/webhooks/a%00b/test', field: 'params.id' },
  { name: 'NUL in a job id', path: '/v1/jobs/a%00b', field: 'params.id' },
  // NUL in query values
  { name: 'NUL in the region filter', path: '/v1/customers?region=EU%00', field: 'querystring.region' },
  { name: 'NUL in the tier filter', path: '/v1/customers?tier=%00', field: 'querystring.tier' },
  { name: 'NUL in the segment filter', path: '/v1/customers?segment=a%00', field: 'querystring.segment' },
  { name: 'NUL in the preferred_channel filter', path: '/v1/customers?preferred_channel=%00x', field: 'querystring.preferred_channel' },
  // NUL and lone surrogates in admin bodies
  { name: 'NUL in an api key name', method: 'POST', path: '/v1/api-keys', body: `{"name":"a${NUL}","scopes":["events:write"]}`, field: 'name' },
  { name: 'lone surrogate in an api key name', method: 'POST', path: '/v1/api-keys', body: `{"name":"a${LONE}b","scopes":["events:write"]}`, field: 'name' },
  { name: 'NUL in a segment name', method: 'PUT', path: '/v1/segments/s1', body: `{"name":"a${NUL}","rule":${JSON.stringify(rule)}}`, field: 'name' },
  { name: 'lone surrogate in a segment name', method: 'PUT', path: '/v1/segments/s1', body: `{"name":"a${LONE}","rule":${JSON.stringify(rule)}}`, field: 'name' },
  { name: 'NUL in a rule value', method: 'PUT', path: '/v1/segments/s1', body: `{"name":"x","rule":{"field":"region","op":"eq","value":"E${NUL}U"}}`, field: 'rule.value' },
  { name: 'lone surrogate in a rule trait key', method: 'PUT', path: '/v1/segments/s1', body: `{"name":"x","rule":{"field":"traits.a${LONE}b","op":"exists"}}`, field: 'rule.field' },
  { name: 'NUL in a tier name', method: 'PUT', path: '/v1/tier-policy', body: policyWithName(`V${NUL}IP`), field: 'tiers[0].name' },
  { name: 'lone surrogate in a tier name', method: 'PUT', path: '/v1/tier-policy', body: policyWithName(`V${LONE}IP`), field: 'tiers[0].name' },
  { name: 'NUL in a webhook description', method: 'POST', path: '/v1/webhooks', body: `{"url":"https://hooks.example/x","events":["*"],"description":"a${NUL}"}`, field: 'description' },
  { name: 'lone surrogate in a webhook description', method: 'POST', path: '/v1/webhooks', body: `{"url":"https://hooks.example/x","events":["*"],"description":"${LONE}"}`, field: 'description' },
  // forged cursors
  { name: 'net_revenue cursor with k "abc"', path: `/v1/customers?sort=net_revenue&cursor=${cursor({ s: 'net_revenue', k: 'abc', id: 'x' })}`, field: 'cursor' },
  { name: 'net_revenue cursor with k "1e999999"', path: `/v1/customers?sort=-net_revenue&cursor=${cursor({ s: '-net_revenue', k: '1e999999', id: 'x' })}`, field: 'cursor' },
  { name: 'last_order_at cursor with k "notadate"', path: `/v1/customers?sort=last_order_at&cursor=${cursor({ s: 'last_order_at', k: 'notadate', id: 'x' })}`, field: 'cursor' },
  { name: 'last_order_at cursor on 30 February', path: `/v1/customers?sort=last_order_at&cursor=${cursor({ s: 'last_order_at', k: '2026-02-30 00:00:00+00', id: 'x' })}`, field: 'cursor' },
  { name: 'cursor id with NUL', path: `/v1/customers?cursor=${cursor({ s: 'id', k: 'a', id: 'a\u0000' })}`, field: 'cursor' },
  { name: 'history cursor at year 0', path: `/v1/customers/c-1/history?cursor=${cursor({ at: '0000-01-01T00:00:00Z', id: 1 })}`, field: 'cursor' },
  { name: 'deliveries cursor at year 0', path: `/v1/webhooks/wh/deliveries?cursor=${cursor({ at: '0000-01-01T00:00:00Z', id: 'd' })}` },
  // numbers and instants out of range
  { name: 'max_recency_days=1e10', path: '/v1/customers?max_recency_days=1e10', field: 'querystring.max_recency_days' },
  { name: 'model fit as_of year 0', method: 'POST', path: '/v1/model/fit', body: '{"as_of":"0000-01-01T00:00:00Z"}', field: 'as_of' },
  { name: 'model fit as_of 30 February', method: 'POST', path: '/v1/model/fit', body: '{"as_of":"2026-02-30T00:00:00Z"}', field: 'as_of' },
  { name: 'segment rule on 30 February', method: 'PUT', path: '/v1/segments/s2', body: '{"name":"x","rule":{"field":"last_order_at","op":"gt","value":"2026-02-30T00:00:00Z"}}', field: 'rule.value' },
  { name: 'tier migration from year 0', path: '/v1/reports/tier-migration?from=0000-01-01T00:00:00Z', field: 'querystring.from' },
  { name: 'webhook recover since 31 April', method: 'POST', path: '/v1/webhooks/wh/recover', body: '{"since":"2026-04-31T00:00:00Z"}', field: 'since' },
  // nesting deeper than any walk of the body should go (a stack overflow was a 500)
  {
    name: 'an event nested 5,000 levels deep',
    method: 'POST',
    path: '/v1/events',
    body: `{"id":"e-deep","type":"interaction","kind":"other","customer_id":"c-1","occurred_at":"2026-01-01T00:00:00Z","properties":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`,
    field: ['properties', ...Array.from({ length: 63 }, () => 'a')].join('.'),
  },
  { name: 'a segment rule nested 5,000 levels deep', method: 'PUT', path: '/v1/segments/deep', body: `{"name":"x","rule":${'{"all":['.repeat(5_000)}${']}'.repeat(5_000)}}` },
  // router-level errors
  { name: 'a path segment of 2,000 characters (414)', path: `/v1/customers/${'a'.repeat(2_000)}` },
  { name: 'bad percent-encoding in the path', path: '/v1/customers/%E0%A4%A' },
  { name: 'invalid UTF-8 in the path', path: '/v1/customers/%ED%A0%80' },
  { name: 'unsupported media type', method: 'POST', path: '/v1/events', body: 'id=1', headers: { 'content-type': 'text/plain' } },
  { name: 'body too large', method: 'POST', path: '/v1/events/batch', body: `{"events":[${'"x",'.repeat(400_000)}"x"]}` },
  { name: 'malformed JSON', method: 'POST', path: '/v1/api-keys', body: '{"name":' },
];

describe('every malformed path, query, cursor and body value is a 4xx problem', () => {
  let svc: TestService;
  let base: string;
  beforeAll(async () => {
    svc = await startService();
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(svc.app.server.address() as { port: number }).port}`;
    const seed = await fetch(`${base}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'e-1', type: 'order', customer_id: 'c-1', occurred_at: '2026-01-01T00:00:00Z', order_id: 'o-1', amount: '5.00' }),
    });
    expect(seed.status).toBe(202);
    await settle(svc, 1);
  });
  afterAll(async () => svc?.close());

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const res = await fetch(`${base}${c.path}`, {
      method: c.method ?? 'GET',
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...c.headers,
      },
      ...(c.body !== undefined ? { body: c.body } : {}),
    });
    const text = await res.text();
    expect(res.status, text).toBeGreaterThanOrEqual(400);
    expect(res.status, text).toBeLessThan(500);
    expect(res.headers.get('content-type'), text).toMatch(/^application\/problem\+json/);
    const problem = JSON.parse(text) as { status: number; errors?: { path: string }[] };
    expect(problem.status).toBe(res.status);
    if (c.field) expect(problem.errors?.map((e) => e.path), text).toContain(c.field);
  });

  it('answers headers over the size limit with a 431 problem', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      let data = '';
      const socket = net.connect(Number(new URL(base).port), '127.0.0.1', () => {
        socket.write(`GET /v1/customers HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(40_000)}\r\n\r\n`);
      });
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 431/);
    expect(answer).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)).status).toBe(431);
  });

  it('still serves the well-formed requests', async () => {
    const ok = await fetch(`${base}/v1/customers/c-1`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    expect(ok.status).toBe(200);
    const fit = await fetch(`${base}/v1/model/fit`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' }, body: '{"as_of":"2024-02-29T00:00:00Z"}',
    });
    expect(fit.status).toBe(202);
  });
});
