import { createHmac, randomBytes } from 'node:crypto';

// Standard Webhooks (https://www.standardwebhooks.com) signing. Receivers verify with the
// `standardwebhooks` package, so every detail here (key decoding, signed content, header
// format) must match that spec byte for byte.

const SECRET_PREFIX = 'whsec_';
// The spec asks for 24–64 bytes of key material; 32 matches the HMAC-SHA256 block-size sweet spot.
const SECRET_BYTES = 32;

export const WEBHOOK_USER_AGENT = 'Tierwise-Webhooks/1';

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

// The key is the base64-decoded part after the prefix, never the printable secret itself.
function decodeSecret(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = Buffer.from(encoded, 'base64');
  // Buffer.from is lenient, so an empty result is the only reliable sign of a garbage secret;
  // signing with an empty key would silently produce signatures nobody can verify.
  if (key.length === 0) throw new Error('webhook secret has no key material');
  return key;
}

export function sign(secret: string, msgId: string, timestamp: number, body: string): string {
  if (!Number.isInteger(timestamp)) throw new Error('webhook timestamp must be whole unix seconds');
  const mac = createHmac('sha256', decodeSecret(secret))
    .update(`${msgId}.${timestamp}.${body}`, 'utf8')
    .digest('base64');
  return `v1,${mac}`;
}

// During rotation both the old and new secret sign every delivery; receivers accept the message
// when any one signature in the space-separated list verifies.
export function signatureHeader(
  secrets: readonly string[],
  msgId: string,
  timestamp: number,
  body: string,
): string {
  if (secrets.length === 0) throw new Error('at least one webhook secret is required to sign');
  return secrets.map((secret) => sign(secret, msgId, timestamp, body)).join(' ');
}

export interface WebhookHeaderInput {
  // Stable across retries: receivers deduplicate on it.
  msgId: string;
  // Unix seconds of *this* attempt: receivers reject stale timestamps (5 min by default), so
  // headers must be rebuilt for every attempt rather than stored with the message.
  timestamp: number;
  // Exactly the bytes that will be sent.
  body: string;
  secrets: readonly string[];
}

export function webhookHeaders(input: WebhookHeaderInput): Record<string, string> {
  return {
    'webhook-id': input.msgId,
    'webhook-timestamp': String(input.timestamp),
    'webhook-signature': signatureHeader(input.secrets, input.msgId, input.timestamp, input.body),
    'content-type': 'application/json',
    'user-agent': WEBHOOK_USER_AGENT,
  };
}
