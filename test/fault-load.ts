import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import { auth, eventually, startService, type Servers, type TestService } from './harness.ts';
import { startReceiver } from './receiver.ts';

/**
 * Clients for the fault tests: each sends order events (single and in batches) over HTTP until
 * told to stop, and retries a request answered 5xx (or not answered) with the same event ids, as
 * a real client would. Every answer is recorded, so a test can say which events were accepted and
 * what was answered while a server was down.
 */

export interface Attempt {
  /** when the request was sent and answered (ms since the epoch) */
  sentAt: number;
  answeredAt: number;
  /** 0: no HTTP answer (connection refused or reset) */
  status: number;
  retryAfter: string | null;
  contentType: string | null;
}

interface OrderEvent {
  id: string;
  type: 'order';
  customer_id: string;
  occurred_at: string;
  order_id: string;
  amount: string;
}

export const CUSTOMERS = 40;
const BATCH = 25;
const DAY_MS = 86_400_000;

/** Order `n` of client `client`: a customer among CUSTOMERS, an exact amount, a day within the last 400. */
function order(tag: string, client: number, n: number, now: number): OrderEvent {
  const k = client * 1_000_003 + n;
  const id = `${tag}-${client}-${n}`;
  return {
    id,
    type: 'order',
    customer_id: `${tag}-c${k % CUSTOMERS}`,
    occurred_at: new Date(now - ((k * 7919) % 400) * DAY_MS - (k % 86_400) * 1_000).toISOString(),
    order_id: id,
    amount: `${(k % 97) + 1}.${String((k * 31) % 100).padStart(2, '0')}`,
  };
}

export function startLoad(options: { baseUrl: string; tag: string; clients: number; retryDelayMs?: number }) {
  const { baseUrl, tag, clients } = options;
  const retryDelayMs = options.retryDelayMs ?? 100;
  const attempts: Attempt[] = [];
  const accepted: string[] = [];
  /** Answers that are neither 202 nor a retryable failure: each one fails the test. */
  const unexpected: { status: number; body: string }[] = [];
  let stopping = false;
  let requests = 0;

  async function send(events: OrderEvent[], single: boolean): Promise<void> {
    const url = single ? `${baseUrl}/v1/events` : `${baseUrl}/v1/events/batch`;
    const body = JSON.stringify(single ? events[0] : { events });
    for (;;) {
      const sentAt = Date.now();
      let status = 0;
      let text = '';
      let headers: Headers | undefined;
      try {
        const res = await fetch(url, { method: 'POST', body, headers: { ...auth(), 'content-type': 'application/json' }, signal: AbortSignal.timeout(30_000) });
        status = res.status;
        headers = res.headers;
        text = await res.text();
      } catch {
        status = 0;
      }
      attempts.push({ sentAt, answeredAt: Date.now(), status, retryAfter: headers?.get('retry-after') ?? null, contentType: headers?.get('content-type') ?? null });
      if (status === 202) {
        accepted.push(...events.map((e) => e.id));
        return;
      }
      if (status !== 0 && status < 500) {
        unexpected.push({ status, body: text.slice(0, 500) });
        return;
      }
      // A real client would wait Retry-After (5 s); retrying sooner keeps requests arriving all
      // through the outage, which is what the test is about.
      await new Promise((r) => setTimeout(r, retryDelayMs));
    }
  }

  async function client(c: number): Promise<void> {
    for (let n = 0; !stopping; ) {
      const now = Date.now();
      const single = n % 3 === 0;
      const size = single ? 1 : BATCH;
      const events = Array.from({ length: size }, (_, i) => order(tag, c, n + i, now));
      n += size;
      requests++;
      await send(events, single);
    }
  }

  const running = Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  return {
    attempts,
    accepted,
    unexpected,
    get requests() {
      return requests;
    },
    /** Waits until `more` events beyond those accepted so far are accepted. */
    async acceptMore(more: number, timeoutMs = 30_000) {
      const target = accepted.length + more;
      await eventually(async () => (accepted.length >= target ? true : undefined), timeoutMs, `${more} more accepted events`);
    },
    /** Stops sending: requests in flight still finish (and retry until accepted). */
    async stop() {
      stopping = true;
      await running;
    },
  };
}

export interface StoredCounts {
  rows: number;
  distinct: number;
  /** event ids stored more than once (impossible by the primary key, counted anyway) and orders stored twice */
  duplicateIds: number;
  duplicateOrders: number;
}

export async function storedCounts(svc: TestService): Promise<StoredCounts> {
  const r = await svc.deps.db.execute<{ rows: number; distinct: number; dup_ids: number; dup_orders: number }>(sql`
    select count(*)::int as rows, count(distinct id)::int as distinct,
      (select count(*)::int from (select id from events group by id having count(*) > 1) d) as dup_ids,
      (select count(*)::int from (select customer_id, order_id from events where type = 'order' group by 1, 2 having count(*) > 1) d) as dup_orders
    from events`);
  const row = r.rows[0]!;
  return { rows: row.rows, distinct: row.distinct, duplicateIds: row.dup_ids, duplicateOrders: row.dup_orders };
}

/** Accepted ids missing from `events`. */
export async function missingIds(svc: TestService, ids: string[]): Promise<string[]> {
  const r = await svc.deps.db.execute<{ id: string }>(sql`
    select x.id from jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb) as x(id) where not exists (select 1 from events e where e.id = x.id)`);
  return r.rows.map((row) => row.id);
}

/**
 * Customers whose stored order_count or net_revenue differs from what their events give (every
 * order is counted here: amounts are above 0 and nothing is refunded or cancelled), as strings so
 * money is compared exactly. Empty when the derived state matches the events.
 */
export async function stateMismatches(svc: TestService): Promise<unknown[]> {
  const r = await svc.deps.db.execute(sql`
    with derived as (
      select customer_id, count(*)::int as order_count, sum((data ->> 'amount')::numeric) as net_revenue
      from events where type = 'order' group by customer_id)
    select coalesce(c.id, d.customer_id) as customer, c.order_count as stored_count, d.order_count as event_count,
      c.net_revenue::text as stored_revenue, d.net_revenue::text as event_revenue
    from customers c full join derived d on d.customer_id = c.id
    where c.id is null or d.customer_id is null or c.order_count <> d.order_count or c.net_revenue <> d.net_revenue`);
  return r.rows;
}

/**
 * Breaks in each customer's history chains: per kind, in sequence order, each row must start
 * where the previous one ended, change something, and the last one end at the stored state. A
 * change recorded twice (or one lost) breaks the chain.
 */
export async function historyBreaks(svc: TestService): Promise<unknown[]> {
  const r = await svc.deps.db.execute(sql`
    with h as (
      select customer_id, kind, before, after, sequence, id,
        lag(after) over (partition by customer_id, kind order by sequence, id) as prev_after,
        row_number() over (partition by customer_id, kind order by sequence, id) as n,
        row_number() over (partition by customer_id, kind order by sequence desc, id desc) as from_end
      from customer_history),
    current as (
      select id as customer_id, 'tier' as kind, to_jsonb(tier) as value from customers
      union all select id, 'lifecycle_stage', to_jsonb(lifecycle_stage) from customers
      union all select id, 'at_risk', to_jsonb(at_risk) from customers)
    select h.customer_id, h.kind, h.n, h.before, h.after, h.prev_after, c.value as current
    from h join current c using (customer_id, kind)
    where h.before is not distinct from h.after
      or (h.n > 1 and h.before is distinct from h.prev_after)
      or (h.n = 1 and h.before is not null and h.before <> 'false'::jsonb)
      or (h.from_end = 1 and h.after is distinct from c.value)`);
  return r.rows;
}

/** Delivered webhook messages that announce the same change (customer, type, sequence) under different ids. */
export function duplicateAnnouncements(bodies: string[]): string[] {
  const idsByChange = new Map<string, Set<string>>();
  for (const body of bodies) {
    const message = JSON.parse(body) as { id: string; type: string; data: { customer_id: string; sequence: number } };
    const change = `${message.data.customer_id} ${message.type} ${message.data.sequence}`;
    const ids = idsByChange.get(change) ?? new Set<string>();
    ids.add(message.id);
    idsByChange.set(change, ids);
  }
  return [...idsByChange].filter(([, ids]) => ids.size > 1).map(([change]) => change);
}

/** Webhook messages in the outbox without a succeeded delivery. */
export async function undeliveredMessages(svc: TestService): Promise<number> {
  const r = await svc.deps.db.execute<{ n: number }>(sql`
    select count(*)::int as n from webhook_messages m
    where not exists (select 1 from webhook_deliveries d where d.message_id = m.id and d.status = 'succeeded')`);
  return r.rows[0]!.n;
}

/**
 * The service under a fault test: the API (listening) and the workers in this process, pointed at
 * a private server, with a webhook receiving every change. It must recover without a restart.
 */
export async function startFaultService(servers: Partial<Servers>) {
  const receiver = await startReceiver();
  const svc = await startService({
    servers,
    config: { WEBHOOK_ALLOW_PRIVATE_TARGETS: true, WEBHOOK_RELAY_INTERVAL_MS: 200, JOB_LOCK_MS: 5_000 },
  });
  const baseUrl = await svc.app.listen({ port: 0, host: '127.0.0.1' });
  const created = await fetch(`${baseUrl}/v1/webhooks`, {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url('/all'), events: ['*'] }),
  });
  if (created.status !== 201) throw new Error(`webhook not created: ${created.status}`);
  return { svc, receiver, baseUrl };
}

/**
 * After the fault: every event answered 202 is stored exactly once, a new event is stored and
 * recomputed, customer state and history agree with the events, every change is delivered once,
 * nothing is left queued or failed, and no pool connection is left checked out.
 */
export async function expectRecovered(
  { svc, receiver, baseUrl }: Awaited<ReturnType<typeof startFaultService>>,
  accepted: string[],
  tag: string,
): Promise<StoredCounts> {
  expect(new Set(accepted).size).toBe(accepted.length);
  await eventually(async () => ((await missingIds(svc, accepted)).length === 0 ? true : undefined), 45_000, 'every accepted event to be stored');
  const counts = await storedCounts(svc);
  expect(counts).toEqual({ rows: accepted.length, distinct: accepted.length, duplicateIds: 0, duplicateOrders: 0 });

  const fresh = { id: `${tag}-after`, type: 'order', customer_id: `${tag}-after-customer`, occurred_at: new Date().toISOString(), order_id: 'o-after', amount: '12.34' };
  const post = await fetch(`${baseUrl}/v1/events`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify(fresh) });
  expect(post.status).toBe(202);
  const customer = await eventually(async () => {
    const res = await fetch(`${baseUrl}/v1/customers/${tag}-after-customer`, { headers: auth() });
    if (res.status !== 200) return undefined;
    const body = (await res.json()) as { metrics?: { order_count?: number; net_revenue?: string } };
    return body.metrics?.order_count === 1 ? body : undefined;
  }, 30_000, 'the new event to be recomputed');
  expect(customer.metrics?.net_revenue).toBe('12.34');

  await eventually(async () => ((await stateMismatches(svc)).length === 0 ? true : undefined), 45_000, 'customer state to match the events');
  expect(await historyBreaks(svc)).toEqual([]);
  await eventually(async () => ((await undeliveredMessages(svc)) === 0 ? true : undefined), 45_000, 'every webhook message to be delivered');
  // Changes were announced (the checks above are not about nothing), none of them twice.
  expect(receiver.received.length).toBeGreaterThan(0);
  expect(duplicateAnnouncements(receiver.received.map((r) => r.body))).toEqual([]);
  await eventually(async () => {
    const c = await svc.deps.queues.ingest.getJobCounts('failed', 'waiting', 'delayed', 'active');
    return Object.values(c).every((n) => n === 0) ? true : undefined;
  }, 30_000, 'the ingest queue to empty');
  // No connection is left checked out by a statement the outage broke: the pools are whole again.
  await eventually(async () => ([svc.deps.pool, svc.deps.workerPool].every((p) => p.totalCount === p.idleCount && p.waitingCount === 0) ? true : undefined), 30_000, 'every pool connection to be back');
  return counts;
}
