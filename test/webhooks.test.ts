import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { eq } from 'drizzle-orm';
import { auth, eventually, startService, type TestService } from './harness.ts';
import { startReceiver, type Received } from './receiver.ts';
import { webhookEndpoints, webhookMessages } from '../src/store/schema.ts';
import { insertMessages } from '../src/store/webhooks.repo.ts';

const day = (d: number) => new Date(Date.now() - d * 86_400_000).toISOString();
let n = 0;
const order = (customer: string, daysAgo = 1) => ({
  id: `wh-${++n}`, type: 'order', customer_id: customer, occurred_at: day(daysAgo), order_id: `o-${n}`, amount: '25.00',
});

async function createEndpoint(svc: TestService, url: string, events: string[] = ['*']) {
  const res = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url, events }, headers: auth() });
  expect(res.statusCode, res.body).toBe(201);
  return res.json() as { id: string; secret: string };
}

const verify = (secret: string, r: Received) =>
  new Webhook(secret).verify(r.body, {
    'webhook-id': r.headers['webhook-id'] as string,
    'webhook-timestamp': r.headers['webhook-timestamp'] as string,
    'webhook-signature': r.headers['webhook-signature'] as string,
  });

describe('webhook delivery', () => {
  let svc: TestService;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    svc = await startService({ config: { WEBHOOK_ALLOW_PRIVATE_TARGETS: true, WEBHOOK_RELAY_INTERVAL_MS: 100, WEBHOOK_TIMEOUT_MS: 500 } });
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  const deliveries = async (endpointId: string) =>
    (await svc.app.inject({ method: 'GET', url: `/v1/webhooks/${endpointId}/deliveries`, headers: auth() })).json().items;

  it('delivers a tier change, signed so that the standardwebhooks package verifies it', async () => {
    const endpoint = await createEndpoint(svc, receiver.url('/tiers'), ['customer.tier_changed']);
    expect(endpoint.secret).toMatch(/^whsec_/);
    await svc.app.inject({ method: 'POST', url: '/v1/events', payload: order('wh-alice'), headers: auth() });
    const got = await eventually(async () => receiver.received.find((r) => r.path === '/tiers'), 15_000, 'a tier change');
    const payload = verify(endpoint.secret, got) as { id: string; type: string; data: Record<string, unknown> };
    expect(payload.type).toBe('customer.tier_changed');
    expect(payload.id).toBe(got.headers['webhook-id']);
    expect(payload.data).toMatchObject({ customer_id: 'wh-alice', previous_tier: null, direction: 'initial', sequence: 1, lifecycle_stage: 'new' });
    expect(payload.data.tier).toEqual(expect.any(String));
    expect(payload.data.playbook).toMatchObject({ summary: expect.any(String) });
    // Only the subscribed type arrives, although lifecycle and tier both changed.
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received.filter((r) => r.path === '/tiers').map((r) => JSON.parse(r.body).type)).toEqual(['customer.tier_changed']);
    const [delivery] = await deliveries(endpoint.id);
    expect(delivery).toMatchObject({ status: 'succeeded', message_id: payload.id, attempts: [{ attempt: 1, outcome: 'success', status_code: 200 }] });
  });

  it('retries a 500 and a timeout with the same webhook-id until a 200', async () => {
    const answers = [{ status: 500, body: 'boom' }, { status: 200, hang: true }, { status: 200 }];
    let i = 0;
    receiver.setResponder((r) => (r.path === '/flaky' ? answers[Math.min(i++, 2)]! : { status: 200 }));
    const endpoint = await createEndpoint(svc, receiver.url('/flaky'));
    const ping = (await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/test`, headers: auth() })).json();
    const failedOnce = await eventually(async () => {
      const [d] = await deliveries(endpoint.id);
      return d?.attempts.length === 1 ? d : undefined;
    });
    expect(failedOnce).toMatchObject({ status: 'pending', attempts: [{ outcome: 'failure', status_code: 500, response_body: 'boom' }] });
    const wait = Date.parse(failedOnce.next_attempt_at) - Date.parse(failedOnce.attempts[0].at);
    expect(wait).toBeGreaterThanOrEqual(4_000);
    expect(wait).toBeLessThanOrEqual(6_000);
    for (const expected of [2, 3]) {
      await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/deliveries/${ping.delivery_id}/retry`, headers: auth() });
      await eventually(async () => ((await deliveries(endpoint.id))[0]?.attempts.length === expected ? true : undefined));
    }
    const [done] = await deliveries(endpoint.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts.map((a: { outcome: string; error: string | null }) => a.outcome)).toEqual(['failure', 'failure', 'success']);
    expect(done.attempts[1].error).toMatch(/timeout/);
    const ids = receiver.received.filter((r) => r.path === '/flaky').map((r) => r.headers['webhook-id']);
    expect(ids).toEqual([ping.message_id, ping.message_id, ping.message_id]);
    const failed = (await svc.app.inject({ method: 'GET', url: `/v1/webhooks/${endpoint.id}/deliveries?status=failed`, headers: auth() })).json();
    expect(failed.items).toEqual([]);
  });

  it('disables an endpoint that answers 410, and does not follow redirects', async () => {
    receiver.setResponder((r) =>
      r.path === '/gone' ? { status: 410 } : r.path === '/moved' ? { status: 302, headers: { location: receiver.url('/target') } } : { status: 200 },
    );
    const gone = await createEndpoint(svc, receiver.url('/gone'));
    const moved = await createEndpoint(svc, receiver.url('/moved'));
    await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${gone.id}/test`, headers: auth() });
    await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${moved.id}/test`, headers: auth() });
    const disabled = await eventually(async () => {
      const e = (await svc.app.inject({ method: 'GET', url: `/v1/webhooks/${gone.id}`, headers: auth() })).json();
      return e.enabled === false ? e : undefined;
    });
    expect(disabled.disabled_reason).toMatch(/410/);
    const [redirected] = await eventually(async () => {
      const d = await deliveries(moved.id);
      return d[0]?.attempts.length ? d : undefined;
    });
    expect(redirected.attempts[0]).toMatchObject({ outcome: 'failure', status_code: 302 });
    expect(receiver.received.some((r) => r.path === '/target')).toBe(false);
  });

  it('signs with both secrets for a day after rotation', async () => {
    receiver.setResponder(() => ({ status: 200 }));
    const endpoint = await createEndpoint(svc, receiver.url('/rotated'));
    const rotated = (await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/rotate-secret`, headers: auth() })).json();
    expect(rotated.secret).not.toBe(endpoint.secret);
    await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/test`, headers: auth() });
    const got = await eventually(async () => receiver.received.find((r) => r.path === '/rotated'));
    expect((got.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    expect(verify(rotated.secret, got)).toMatchObject({ type: 'webhook.test' });
    expect(verify(endpoint.secret, got)).toMatchObject({ type: 'webhook.test' });
  });

  it('refuses URLs with credentials or other schemes, and recovers at most 14 days back', async () => {
    for (const url of ['ftp://example.com/hook', 'http://user:pw@example.com/hook', 'not a url']) {
      const res = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url, events: ['*'] }, headers: auth() });
      expect(res.statusCode).toBe(400);
      expect(res.json().errors[0].path).toBe('url');
    }
    const endpoint = await createEndpoint(svc, receiver.url('/r'));
    const tooOld = await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/recover`, payload: { since: day(15) }, headers: auth() });
    expect(tooOld.statusCode).toBe(400);
    const ok = await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/recover`, payload: { since: day(2) }, headers: auth() });
    expect(ok.json()).toEqual({ recovered: 0 });
  });
});

describe('webhook SSRF guard', () => {
  let svc: TestService;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    svc = await startService({ config: { WEBHOOK_RELAY_INTERVAL_MS: 100 } });
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  it.each(['http://127.0.0.1/h', 'http://10.0.0.5/h', 'http://169.254.169.254/latest', 'http://100.64.0.1/', 'http://[::1]/h', 'http://[fd00::1]/h', 'http://[::ffff:127.0.0.1]/h', 'http://localhost/h'])(
    'refuses %s when it is registered',
    async (url) => {
      const res = await svc.app.inject({ method: 'POST', url: '/v1/webhooks', payload: { url, events: ['*'] }, headers: auth() });
      expect(res.statusCode).toBe(400);
    },
  );

  it('refuses at connect time a public-looking endpoint whose address turns out to be loopback', async () => {
    const endpoint = await createEndpoint(svc, 'https://hooks.example.com/h');
    // As if DNS now pointed the name at this machine: the connect-time check must refuse it.
    await svc.deps.db.update(webhookEndpoints).set({ url: receiver.url('/h').replace('127.0.0.1', 'localhost') }).where(eq(webhookEndpoints.id, endpoint.id));
    await svc.app.inject({ method: 'POST', url: `/v1/webhooks/${endpoint.id}/test`, headers: auth() });
    const attempt = await eventually(async () => {
      const [d] = (await svc.app.inject({ method: 'GET', url: `/v1/webhooks/${endpoint.id}/deliveries`, headers: auth() })).json().items;
      return d?.attempts[0];
    });
    expect(attempt).toMatchObject({ outcome: 'failure', status_code: null });
    expect(attempt.error).toMatch(/forbidden/);
    expect(receiver.received).toEqual([]);
  });
});

describe('the outbox holds subscribed types only', () => {
  let svc: TestService;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver();
    svc = await startService({ config: { WEBHOOK_ALLOW_PRIVATE_TARGETS: true, WEBHOOK_RELAY_INTERVAL_MS: 100 } });
  });
  afterAll(async () => {
    await svc?.close();
    await receiver?.close();
  });

  const derived = async (customer: string) => {
    const res = await svc.app.inject({ method: 'GET', url: `/v1/customers/${customer}`, headers: auth() });
    return (res.statusCode === 200 && res.json().metrics?.order_count === 1) || undefined;
  };
  const outboxTypes = async () =>
    (await svc.deps.db.select({ type: webhookMessages.type }).from(webhookMessages).orderBy(webhookMessages.type)).map((m) => m.type);

  it('writes no message while no endpoint subscribes, and delivers the changes made after one subscribes', async () => {
    await svc.app.inject({ method: 'POST', url: '/v1/events', payload: order('sub-before'), headers: auth() });
    await eventually(() => derived('sub-before'), 15_000, 'sub-before derived');
    expect(await outboxTypes()).toEqual([]);

    const disabled = await createEndpoint(svc, receiver.url('/off'), ['customer.lifecycle_changed']);
    await svc.app.inject({ method: 'PATCH', url: `/v1/webhooks/${disabled.id}`, payload: { enabled: false }, headers: auth() });
    const endpoint = await createEndpoint(svc, receiver.url('/later'), ['customer.tier_changed']);
    await svc.app.inject({ method: 'POST', url: '/v1/events', payload: order('sub-after'), headers: auth() });
    const got = await eventually(async () => receiver.received.find((r) => r.path === '/later'), 15_000, 'the tier change');
    expect(verify(endpoint.secret, got)).toMatchObject({ type: 'customer.tier_changed', data: { customer_id: 'sub-after', direction: 'initial', sequence: 1 } });
    // The lifecycle change is written for no one: its only subscriber is disabled.
    expect(await outboxTypes()).toEqual(['customer.tier_changed']);
  });

  it('saves an endpoint only once the outbox writes in flight have committed, so none of their changes slips past it', async () => {
    let commit!: () => void;
    let locked!: () => void;
    const held = new Promise<void>((resolve) => (locked = resolve));
    const writing = svc.deps.db.transaction(async (tx) => {
      await insertMessages(tx, [{ id: 'evt_in_flight', type: 'customer.at_risk', body: '{}', createdAt: new Date() }]);
      locked();
      await new Promise<void>((resolve) => (commit = resolve));
    });
    await held;
    let saved = false;
    const saving = createEndpoint(svc, receiver.url('/risk'), ['customer.at_risk']).then(() => (saved = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(saved).toBe(false);
    commit();
    await writing;
    await saving;
    // The write read the subscriptions before the endpoint existed: its message was for no one.
    expect(await outboxTypes()).not.toContain('customer.at_risk');
  });
});
