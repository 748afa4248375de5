/**
 * Property-based fuzz of every route of the real app (fast-check, fixed seed), with real Postgres,
 * Redis and workers. The route list is read from the app itself (printRoutes), and the test fails
 * when a route has no request generator, so a new route cannot be left out. Requests are shaped by
 * the app's OpenAPI document (generated from the zod schemas) and mixed with hostile values: NUL,
 * lone surrogates, huge, negative and non-finite numbers, money with too many digits, impossible
 * instants, long strings, wrong types, extra and prototype-pollution keys, bad cursors, bad
 * percent-encoding and path ids, huge query values.
 *
 * Invariants (docs/architecture.md, the event path):
 *  1. no 5xx: every answer from 400 up is an application/problem+json with a 4xx status (a 3xx, a
 *     Swagger UI redirect, carries a location);
 *  2. every event answered 202 (POST /v1/events, /v1/events/batch) or queued by /compat/segment is,
 *     once the workers drain, stored exactly once in `events` (or absorbed as a second order with a
 *     stored order id, the documented duplicate) or listed in GET /v1/dead-letters with its reason;
 *  3. the service stays ready: GET /readyz is 200, and a known-good event posted at the end is
 *     stored and its customer recomputed.
 *
 * About 1,000 requests in all by default; FUZZ_RUNS=10000 scales every property up (and the
 * timeouts with it). FUZZ_SEED changes the seed (a failure prints the seed and path to replay).
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, auth, eventually, settle, startService, type TestService } from './harness.ts';
import {
  cursorValue, fromSchema, hostileValue, jsonText, pastInstant, pathSegment, queryValue, withHostility, type Schema,
} from './fuzz.arbitraries.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_260_301);
/** Share of the runs for the ingest routes, whose accepted events invariant 2 follows. */
const INGEST_SHARE = 0.4;
const TIMEOUT_MS = 120_000 + RUNS * 300;

/** Routes outside the OpenAPI document (hidden there), each with what the fuzz sends. */
const UNDOCUMENTED = [
  'GET /docs', 'GET /docs/', 'GET /docs/static/index.html', 'GET /docs/static/swagger-initializer.js', 'GET /docs/*', 'GET /docs/json',
  'GET /docs/yaml', 'GET /dashboard', 'GET /dashboard/vendor/echarts.esm.min.mjs', 'GET /dashboard*', 'GET /openapi.json', 'GET /metrics',
];
const INGEST_ROUTES = ['POST /v1/events', 'POST /v1/events/batch'];
const SEGMENT_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;

interface Route {
  method: string;
  /** as the router prints it: /v1/customers/:id */
  path: string;
}

/**
 * The app's routes from fastify's printRoutes tree: each line is a path piece (appended to its
 * parent's) with the methods it answers in parentheses.
 */
function routesOf(tree: string): Route[] {
  const routes: Route[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) routes.push({ method, path: stack.join('') });
  }
  return routes;
}

interface Request {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string;
  /** events this request carries that must be stored (or parked) when it is accepted */
  ingest?: 'native' | { clean: string[] };
}

interface Operation {
  parameters?: { in: string; name: string; schema: Schema }[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

describe('fuzz: every route under hostile input', () => {
  let svc: TestService;
  let routes: Route[];
  let paths: Record<string, Record<string, Operation>>;
  let components: Record<string, Schema>;
  const known: Record<string, string[]> = { customers: ['c-1'], webhooks: [], segments: ['vip'], jobs: [], deliveries: ['1'], deadLetters: ['1'] };
  const covered = new Map<string, number>();
  const accepted: { id: string; type: string; customer_id: string; order_id?: string }[] = [];
  const cleanSegmentIds: string[] = [];
  const erased = new Set<string>();
  let requests = 0;
  /** Warnings and errors the app and workers log: a message the Segment mapper could not handle is a bug, as is any error. */
  const logged: { level: number; msg: string; err?: { message?: string; stack?: string } }[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line) as (typeof logged)[number]) });

  beforeAll(async () => {
    svc = await startService({ config: { RATE_LIMIT_MAX: 1_000_000, INGEST_MAX_WAITING: 1_000_000 }, logger });
    routes = routesOf(svc.app.printRoutes({ commonPrefix: false }));
    const spec = svc.app.swagger() as unknown as { paths: typeof paths; components: { schemas: typeof components } };
    paths = spec.paths;
    components = spec.components.schemas;
    const post = (url: string, body: unknown) =>
      svc.app.inject({ method: 'POST', url, headers: { ...auth(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect((await post('/v1/events', { id: 'e-1', type: 'order', customer_id: 'c-1', occurred_at: '2026-01-01T00:00:00Z', order_id: 'o-1', amount: '5.00' })).statusCode).toBe(202);
    const hook = await post('/v1/webhooks', { url: 'https://hooks.example/fuzz', events: ['*'] });
    expect(hook.statusCode, hook.body).toBe(201);
    known.webhooks!.push((hook.json() as { id: string }).id);
    const seg = await svc.app.inject({
      method: 'PUT', url: '/v1/segments/vip', headers: { ...auth(), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'VIP', rule: { field: 'order_count', op: 'gte', value: 1 } }),
    });
    expect(seg.statusCode, seg.body).toBeLessThan(300);
    const job = await post('/v1/rescore', {});
    expect(job.statusCode, job.body).toBe(202);
    known.jobs!.push((job.json() as { job_id: string }).job_id);
    const ping = await post(`/v1/webhooks/${known.webhooks![0]}/test`, {});
    expect(ping.statusCode, ping.body).toBe(202);
    known.deliveries!.push((ping.json() as { delivery_id: string }).delivery_id);
    await settle(svc, 1);
  });
  afterAll(async () => svc?.close());

  it('has a request generator for every route the app serves', () => {
    const documented = new Set(Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
    const missing = routes
      .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')
      .map((r) => `${r.method} ${r.path}`)
      .filter((key) => !documented.has(openApiKey(key)) && !UNDOCUMENTED.includes(key));
    expect(missing).toEqual([]);
    expect(routes.length).toBeGreaterThan(60);
  });

  it(`answers ${RUNS} hostile requests over every route with 2xx or a 4xx problem`, { timeout: TIMEOUT_MS }, async () => {
    const ingestRuns = Math.max(10, Math.round((RUNS * INGEST_SHARE) / (INGEST_ROUTES.length + SEGMENT_TYPES.length + 1)));
    const otherRuns = Math.max(3, Math.round((RUNS * (1 - INGEST_SHARE)) / routes.length));
    // Every route is fuzzed even when one fails, so that one run reports every failing route.
    const failures: string[] = [];
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      const isIngest = INGEST_ROUTES.includes(key) || route.path.startsWith('/compat/segment/');
      const outcome = await fc.check(
        fc.asyncProperty(requestFor(route), async (req) => {
          await send(key, req);
        }),
        { numRuns: isIngest ? ingestRuns : otherRuns, seed: SEED, endOnFailure: true },
      );
      if (outcome.failed) failures.push(`${key}: ${String(outcome.errorInstance).slice(0, 1_500)}`);
    }
    expect(failures).toEqual([]);
    expect(routes.filter((r) => !covered.get(`${r.method} ${r.path}`))).toEqual([]);
    // The fuzz must reach past the door too, or it tests only refusals.
    expect(accepted.length).toBeGreaterThan(RUNS / 20);
    expect(cleanSegmentIds.length).toBeGreaterThan(RUNS / 50);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const bugs = logged.filter((l) => l.level >= 50 || l.msg === 'segment message could not be mapped');
    expect(bugs.slice(0, 5).map((l) => `${l.msg}: ${l.err?.stack ?? l.err?.message ?? ''}`)).toEqual([]);
  });

  it('stores or dead-letters every accepted event exactly once, and stays ready', { timeout: TIMEOUT_MS }, async () => {
    expect(requests).toBeGreaterThanOrEqual(RUNS * 0.9);
    await settle(svc, 0);
    const failed = await svc.deps.queues.ingest.getJobCounts('failed');
    expect(failed.failed).toBe(0);
    const parked = new Set<string>();
    for (let cursor: string | undefined; ; ) {
      const res = await svc.app.inject({ url: `/v1/dead-letters?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, headers: auth() });
      expect(res.statusCode, res.body).toBe(200);
      const page = res.json() as { items: { event: { id: string }; error: { message: string } }[]; next_cursor: string | null };
      for (const item of page.items) {
        expect(item.error.message).not.toBe('');
        parked.add(item.event.id);
      }
      if (!page.next_cursor) break;
      cursor = page.next_cursor;
    }
    const expected = accepted.filter((e) => !erased.has(e.customer_id));
    const ids = [...new Set([...expected.map((e) => e.id), ...cleanSegmentIds])];
    const stored = new Set(
      (await svc.deps.db.execute<{ id: string }>(sql`select id from events where id = any(${toPgArray(ids)}::text[])`)).rows.map((r) => r.id),
    );
    const orders = new Set(
      (await svc.deps.db.execute<{ k: string }>(sql`select customer_id || '/' || order_id k from events where type = 'order'`)).rows.map((r) => r.k),
    );
    const lost = expected.filter(
      (e) => !stored.has(e.id) && !parked.has(e.id) && !(e.type === 'order' && orders.has(`${e.customer_id}/${e.order_id}`)),
    );
    expect(lost.slice(0, 10)).toEqual([]);
    expect(cleanSegmentIds.filter((id) => !stored.has(id) && !parked.has(id)).slice(0, 10)).toEqual([]);
    // Stored and parked at once would be twice.
    expect([...parked].filter((id) => stored.has(id) && ids.includes(id))).toEqual([]);

    const ready = await svc.app.inject({ url: '/readyz' });
    expect(ready.statusCode, ready.body).toBe(200);
    const good = await svc.app.inject({
      method: 'POST', url: '/v1/events', headers: { ...auth(), 'content-type': 'application/json' },
      payload: JSON.stringify({ id: 'fuzz-final', type: 'order', customer_id: 'fuzz-final-customer', occurred_at: new Date().toISOString(), order_id: 'fuzz-final-order', amount: '42.50' }),
    });
    expect(good.statusCode, good.body).toBe(202);
    const customer = await eventually(async () => {
      const res = await svc.app.inject({ url: '/v1/customers/fuzz-final-customer', headers: auth() });
      const body = res.statusCode === 200 ? (res.json() as { computed_at: string | null; metrics: { order_count: number } | null }) : undefined;
      return body?.metrics ? body : undefined;
    }, 60_000, 'the known-good customer to be recomputed');
    expect(customer.metrics!.order_count).toBe(1);
    expect(customer.computed_at).not.toBeNull();
    console.info(`fuzz: ${requests} requests over ${routes.length} routes (seed ${SEED}); ${accepted.length} native events and ${cleanSegmentIds.length} clean Segment messages accepted; ${parked.size} dead letters`);
  });

  /** Sends one request and checks invariant 1; records what invariant 2 must find later. */
  async function send(key: string, req: Request): Promise<void> {
    covered.set(key, (covered.get(key) ?? 0) + 1);
    requests++;
    const res = await svc.app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload !== undefined ? { payload: req.payload } : {}) });
    if (process.env.FUZZ_DEBUG && key.includes(process.env.FUZZ_DEBUG)) console.log(res.statusCode, req.payload?.slice(0, 200), res.body.slice(0, 300));
    const what = `${req.method} ${req.url.slice(0, 300)} ${req.payload?.slice(0, 300) ?? ''} → ${res.statusCode} ${res.body.slice(0, 500)}`;
    expect(res.statusCode, what).toBeLessThan(500);
    // Swagger UI's static pages redirect to their directory: a 3xx carries a location, nothing else.
    if (res.statusCode >= 300 && res.statusCode < 400) expect(res.headers.location, what).toBeTruthy();
    if (res.statusCode >= 400) {
      expect(res.headers['content-type'], what).toMatch(/^application\/problem\+json/);
      if (req.method !== 'HEAD') expect((JSON.parse(res.body) as { status: number }).status, what).toBe(res.statusCode);
    }
    if (res.statusCode === 202 && req.ingest === 'native') {
      const body = JSON.parse(req.payload!) as { events?: unknown[] };
      for (const e of (key.endsWith('/batch') ? body.events! : [body]) as { id: string; type: string; customer_id: string; order_id?: string }[]) accepted.push(e);
    }
    if (res.statusCode === 200 && req.ingest && req.ingest !== 'native') cleanSegmentIds.push(...req.ingest.clean);
    if (req.method === 'DELETE' && key === 'DELETE /v1/customers/:id' && res.statusCode < 300) {
      erased.add(decodeURIComponent(req.url.split('?')[0]!.split('/').pop()!)); // a 2xx id is well-formed
    }
  }

  /** A request for a route: its path, query, headers and body, valid in shape or hostile. */
  function requestFor(route: Route): fc.Arbitrary<Request> {
    const key = `${route.method} ${route.path}`;
    const op = paths[openApiKey(key).slice(openApiKey(key).indexOf(' ') + 1)]?.[(route.method === 'HEAD' ? 'get' : route.method.toLowerCase())];
    const params = op?.parameters ?? [];
    const pathArbs = route.path
      .split('/')
      .map((piece) => {
        if (piece.startsWith(':')) {
          const name = piece.slice(1);
          const schema = params.find((p) => p.in === 'path' && p.name === name)?.schema;
          return pathSegment(fromSchema(schema, components), knownFor(route.path, name));
        }
        if (piece.includes('*')) {
          // `/dashboard*` is the static directory /dashboard/: its tail starts with a slash.
          const lead = piece === '*' ? '' : '/';
          const tail = fc.oneof(fc.constantFrom('index.html', 'app.js', 'i18n/en.json', '', 'x', '../package.json', '%2e%2e/%2e%2e/package.json'), pathSegment(fc.constant('x'), []));
          return tail.map((t) => piece.replace('*', `${lead}${t}`));
        }
        return fc.constant(piece);
      });
    const url = fc.tuple(...pathArbs).map((pieces) => pieces.join('/'));
    const query = queryFor(params.filter((p) => p.in === 'query'));
    const headers = headersFor(route.path);
    const body = bodyFor(key, op);
    return fc.tuple(url, query, headers, body).map(([u, q, h, b]) => ({
      method: route.method,
      url: q ? `${u}?${q}` : u,
      headers: { ...h, ...(b.payload !== undefined && !('content-type' in h) ? { 'content-type': 'application/json' } : {}) },
      ...b,
    }));
  }

  function knownFor(path: string, name: string): string[] {
    if (path.startsWith('/v1/customers')) return known.customers!;
    if (path.startsWith('/v1/webhooks')) return name === 'delivery_id' ? known.deliveries! : known.webhooks!;
    if (path.startsWith('/v1/segments')) return known.segments!;
    if (path.startsWith('/v1/jobs')) return known.jobs!;
    if (path.startsWith('/v1/dead-letters')) return known.deadLetters!;
    if (path.startsWith('/v1/events')) return ['e-1'];
    return [];
  }

  function queryFor(params: { name: string; schema: Schema }[]): fc.Arbitrary<string> {
    const pairs = params.map((p) =>
      fc.option(
        (p.name === 'cursor' ? fc.oneof(cursorValue, queryValue(fromSchema(p.schema, components))) : queryValue(fromSchema(p.schema, components))).map(
          (v) => `${p.name}=${v}`,
        ),
        { nil: undefined, freq: 2 },
      ),
    );
    const extra = fc.oneof({ arbitrary: fc.constant([]), weight: 4 }, { arbitrary: fc.array(
      fc.oneof(
        fc.tuple(fc.constantFrom('__proto__', 'constructor', '%00', 'a%00', 'unknown', 'limit', 'limit[]', 'sort'), queryValue(fc.constant('1'))).map(([k, v]) => `${k}=${v}`),
        fc.constantFrom('&&&', '=', '%', 'a=%E0%A4%A', 'limit=1&limit=2', 'cursor=a&cursor=b'),
      ),
      { minLength: 1, maxLength: 2 },
    ), weight: 1 });
    return fc.tuple(fc.tuple(...pairs), extra).map(([ps, ex]) => [...ps.filter((x) => x !== undefined), ...ex].join('&'));
  }

  function headersFor(path: string): fc.Arbitrary<Record<string, string>> {
    const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`;
    const authorization = fc.oneof(
      { arbitrary: fc.constant(`Bearer ${ADMIN_KEY}`), weight: 12 },
      ...(path.startsWith('/compat/') ? [{ arbitrary: fc.constant(basic(ADMIN_KEY)), weight: 6 }] : []),
      {
        arbitrary: fc.constantFrom('', 'Bearer', 'Bearer \u0000', 'Basic', 'Basic !!!', basic('\u0000'), basic('nope'), 'Bearer tw_unknown', `Bearer ${'a'.repeat(5_000)}`, 'Digest x'),
        weight: 1,
      },
    );
    const contentType = fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 10 },
      { arbitrary: fc.constantFrom('text/plain', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json;;', ''), weight: 1 },
    );
    const encoding = path.startsWith('/compat/')
      ? fc.oneof({ arbitrary: fc.constant(undefined), weight: 10 }, { arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'x-gzip', 'identity, gzip'), weight: 1 })
      : fc.constant(undefined);
    return fc.tuple(authorization, contentType, encoding).map(([a, ct, enc]) => ({
      ...(a ? { authorization: a } : {}),
      ...(ct !== undefined ? { 'content-type': ct } : {}),
      ...(enc !== undefined ? { 'content-encoding': enc } : {}),
    }));
  }

  function bodyFor(key: string, op: Operation | undefined): fc.Arbitrary<Pick<Request, 'payload' | 'ingest'>> {
    const raw = fc.constantFrom('', '{', 'null', '[]', '"x"', '1e400', '{"a":1,"a":2}', '{"__proto__":{"polluted":true}}', '\u0000', '\ufeff{}', `[${'1,'.repeat(10_000)}1]`);
    const rawBody = raw.map((payload) => ({ payload }));
    if (key === 'POST /v1/events') {
      return fc.oneof(
        { arbitrary: withHostility(validEvent, 2).map(({ value }) => ({ payload: jsonText(value), ingest: 'native' as const })), weight: 10 },
        { arbitrary: rawBody, weight: 1 },
      );
    }
    if (key === 'POST /v1/events/batch') {
      const batch = fc
        .record(
          {
            // A sent_at far from now shifts every occurred_at by the skew, out of range: near now, or hostile.
            sent_at: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, { arbitrary: now, weight: 4 }, { arbitrary: hostileValue, weight: 1 }),
            events: fc.array(withHostility(validEvent, 40).map((h) => h.value), { minLength: 1, maxLength: 8 }),
          },
          { requiredKeys: ['events'] },
        )
        .map((b) => ({ payload: jsonText(b), ingest: 'native' as const }));
      return fc.oneof({ arbitrary: batch, weight: 10 }, { arbitrary: withHostility(fc.constant({ events: [] })).map(({ value }) => ({ payload: jsonText(value) })), weight: 1 }, { arbitrary: rawBody, weight: 1 });
    }
    if (key.startsWith('POST /compat/segment/v1/')) {
      const type = key.split('/').pop()!;
      if (type === 'batch') {
        const batch = fc
          .tuple(fc.array(segmentMessage(undefined, 8), { minLength: 1, maxLength: 10 }), fc.option(hostileValue, { nil: undefined }), fc.boolean())
          .map(([messages, hostileSentAt, withSentAt]) => {
            const envelope: Record<string, unknown> = { batch: messages.map((m) => m.value) };
            if (hostileSentAt !== undefined) envelope.sentAt = hostileSentAt;
            else if (withSentAt) envelope.sentAt = new Date().toISOString(); // sentAt far from now would skew every timestamp
            const clean = hostileSentAt === undefined ? messages.filter((m) => !m.mutated).map((m) => m.id) : [];
            return { payload: jsonText(envelope), ingest: { clean } };
          });
        return fc.oneof({ arbitrary: batch, weight: 10 }, { arbitrary: rawBody, weight: 1 });
      }
      const single = segmentMessage(type as (typeof SEGMENT_TYPES)[number]).map((m) => ({
        payload: jsonText(m.value),
        ingest: { clean: m.mutated || (type !== 'track' && type !== 'identify') ? [] : [m.id] },
      }));
      return fc.oneof({ arbitrary: single, weight: 10 }, { arbitrary: rawBody, weight: 1 });
    }
    const schema = op?.requestBody?.content['application/json']?.schema;
    if (!schema) {
      return fc.oneof({ arbitrary: fc.constant({}), weight: 6 }, { arbitrary: withHostility(fc.constant({})).map(({ value }) => ({ payload: jsonText(value) })), weight: 1 }, { arbitrary: rawBody, weight: 1 });
    }
    return fc.oneof(
      { arbitrary: withHostility(fromSchema(schema, components), 2).map(({ value }) => ({ payload: jsonText(value) })), weight: 10 },
      { arbitrary: rawBody, weight: 1 },
    );
  }
});

/** `GET /v1/customers/:id` → `GET /v1/customers/{id}`, the OpenAPI path of a route. */
function openApiKey(key: string): string {
  return key.replace(/:([A-Za-z_]+)/g, '{$1}');
}

const toPgArray = (ids: string[]) => `{${ids.map((id) => `"${id.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;

let sequence = 0;
/** A fresh id per generated event, so that what invariant 2 follows is not a retried duplicate. */
const nextId = (prefix: string) => fc.constant(null).map(() => `${prefix}-${++sequence}`);

const now = fc.constant(null).map(() => new Date().toISOString());
const customerId = fc.integer({ min: 1, max: 40 }).map((n) => `fz-customer-${n}`);
const money = fc.oneof(
  fc.tuple(fc.nat({ max: 99_999 }), fc.nat({ max: 99 })).map(([a, b]) => `${a}.${String(b).padStart(2, '0')}`),
  fc.nat({ max: 10_000 }),
);

/** A valid event of each type (docs/architecture.md), ids unique per generation. */
const validEvent: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(nextId('fz'), customerId, pastInstant, fc.integer({ min: 0, max: 4 }), money, fc.constantFrom('email_open', 'site_visit', 'complaint', 'review'))
  .map(([id, customer_id, occurred_at, kind, amount, interaction]) => {
    const common = { id, customer_id, occurred_at };
    switch (kind) {
      case 0: return { ...common, type: 'order', order_id: `o-${id}`, amount, channel: 'online', region: 'EU', items: [{ sku: 's', quantity: 1, unit_price: amount }] };
      case 1: return { ...common, type: 'refund', order_id: `o-${id}`, amount: '1.00' };
      case 2: return { ...common, type: 'order_cancelled', order_id: `o-${id}` };
      case 3: return { ...common, type: 'interaction', kind: interaction, satisfaction: 3 };
      default: return { ...common, type: 'customer', traits: { email: 'a@b.example', region: 'EU', signup_at: occurred_at } };
    }
  });

/** A Segment spec message, clean or with hostile fields; `id` is its messageId. */
function segmentMessage(pathType: (typeof SEGMENT_TYPES)[number] | undefined, cleanWeight = 2) {
  const clean = fc
    .tuple(nextId('fzs'), customerId, pastInstant, fc.constantFrom(...(pathType ? [pathType] : ['track', 'identify'])), fc.integer({ min: 0, max: 2 }), money)
    .map(([id, userId, timestamp, type, kind, total]) => {
      const common = { messageId: id, userId, timestamp, context: { ip: '203.0.113.1' } };
      const typed = pathType ? {} : { type };
      if (type === 'identify') return { ...typed, ...common, traits: { email: 'a@b.example', name: 'A', createdAt: timestamp } };
      if (type === 'track') {
        if (kind === 0) return { ...typed, ...common, event: 'Order Completed', properties: { order_id: `o-${id}`, total, currency: 'USD' } };
        if (kind === 1) return { ...typed, ...common, event: 'Email Opened', properties: { email_id: 'x' } };
        return { ...typed, ...common, event: 'Some Custom Thing', properties: { a: 1 } };
      }
      return { ...typed, ...common, name: 'x', traits: { a: 1 } };
    });
  return withHostility(clean, cleanWeight).map(({ value, mutated }) => ({ value, mutated, id: (value as { messageId?: string } | null)?.messageId ?? '' }));
}
