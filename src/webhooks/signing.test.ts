import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSecret, sign, signatureHeader, webhookHeaders } from './signing.ts';

// Known-answer vector published with the Standard Webhooks reference libraries.
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('generateSecret', () => {
  it('is whsec_ plus base64 of at least 24 random bytes', () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64').length).toBeGreaterThanOrEqual(24);
    expect(generateSecret()).not.toBe(secret);
  });

  it('is accepted by the standardwebhooks package', () => {
    const secret = generateSecret();
    const body = '{"hello":"world"}';
    const headers = webhookHeaders({ msgId: 'msg_1', timestamp: nowSeconds(), body, secrets: [secret] });
    expect(new Webhook(secret).verify(body, headers)).toEqual({ hello: 'world' });
  });
});

describe('sign', () => {
  it('matches the Standard Webhooks known-answer vector', () => {
    expect(sign(VECTOR.secret, VECTOR.msgId, VECTOR.timestamp, VECTOR.body)).toBe(VECTOR.signature);
  });

  it('agrees with the reference implementation for non-ASCII bodies', () => {
    const secret = generateSecret();
    const body = '{"name":"Zoë 😀","amount":"12.50"}';
    const at = new Date(1_700_000_000_000);
    expect(sign(secret, 'msg_x', 1_700_000_000, body)).toBe(new Webhook(secret).sign('msg_x', at, body));
  });

  it('refuses fractional timestamps and empty secrets', () => {
    expect(() => sign(VECTOR.secret, 'm', 1.5, '{}')).toThrow(/unix seconds/);
    expect(() => sign('whsec_', 'm', 1, '{}')).toThrow(/key material/);
  });
});

describe('signatureHeader', () => {
  it('lists one signature per secret, space separated', () => {
    const header = signatureHeader([VECTOR.secret, generateSecret()], VECTOR.msgId, VECTOR.timestamp, VECTOR.body);
    const parts = header.split(' ');
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(VECTOR.signature);
    expect(parts[1]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('needs at least one secret', () => {
    expect(() => signatureHeader([], 'm', 1, '{}')).toThrow(/at least one/);
  });
});

describe('webhookHeaders', () => {
  it('carries the Standard Webhooks headers plus content type and user agent', () => {
    const headers = webhookHeaders({ ...VECTOR, secrets: [VECTOR.secret] });
    expect(headers).toEqual({
      'webhook-id': VECTOR.msgId,
      'webhook-timestamp': '1614265330',
      'webhook-signature': VECTOR.signature,
      'content-type': 'application/json',
      'user-agent': 'Tierwise-Webhooks/1',
    });
  });

  it('verifies under each secret separately during rotation', () => {
    const oldSecret = generateSecret();
    const newSecret = generateSecret();
    const body = '{"id":"evt_1","type":"webhook.test","data":{}}';
    const secrets = [oldSecret, newSecret];
    const headers = webhookHeaders({ msgId: 'msg_rot', timestamp: nowSeconds(), body, secrets });
    expect(new Webhook(oldSecret).verify(body, headers)).toMatchObject({ id: 'evt_1' });
    expect(new Webhook(newSecret).verify(body, headers)).toMatchObject({ id: 'evt_1' });
    expect(() => new Webhook(generateSecret()).verify(body, headers)).toThrow();
  });

  it('does not verify a body that differs by one byte', () => {
    const secret = generateSecret();
    const body = '{"a":1}';
    const headers = webhookHeaders({ msgId: 'msg_t', timestamp: nowSeconds(), body, secrets: [secret] });
    expect(() => new Webhook(secret).verify('{"a": 1}', headers)).toThrow();
  });
});
