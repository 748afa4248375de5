import type { FastifyRequest } from 'fastify';
import { hasScope, type KeyStore } from '../../services/api-keys.service.ts';
import { AppError } from '../../services/errors.ts';

const BASIC = /^Basic\s+(\S+)$/i;
const BEARER = /^Bearer\s+(\S+)$/i;

const unauthorized = (detail: string) =>
  new AppError(401, 'unauthorized', detail, undefined, { 'www-authenticate': 'Basic realm="tierwise", charset="UTF-8"' });

/** The write key of `Authorization: Basic base64(writeKey:)` (the user name; the password is empty). */
export function writeKeyOf(header: string | undefined): string | undefined {
  const basic = BASIC.exec(header ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon < 0 ? decoded : decoded.slice(0, colon);
    // Some webhook tools can only fill in the password: accept the key there when the user is empty.
    return user || (colon < 0 ? '' : decoded.slice(colon + 1)) || undefined;
  }
  return BEARER.exec(header ?? '')?.[1];
}

/**
 * Authentication as the Segment HTTP API does it: the write key (one of our API keys with
 * `events:write`) as the Basic user name, or, without an Authorization header, as `writeKey` in
 * the body. A Bearer key works too.
 */
export function segmentAuth(keys: KeyStore) {
  async function admit(request: FastifyRequest, secret: string | undefined): Promise<void> {
    if (!secret) throw unauthorized('Send the write key (an API key with events:write) as the Basic auth user name.');
    const principal = await keys.authenticate(secret);
    if (!principal) throw unauthorized('The write key is unknown or revoked.');
    request.principal = principal;
    if (!hasScope(principal, 'events:write')) throw new AppError(403, 'forbidden', 'This write key lacks the "events:write" scope.');
  }
  return {
    onRequest: async (request: FastifyRequest) => {
      const header = request.headers.authorization;
      if (header !== undefined) await admit(request, writeKeyOf(header));
    },
    // Only reached without an Authorization header: the body is parsed by now.
    preValidation: async (request: FastifyRequest) => {
      if (request.principal) return;
      const body = request.body as { writeKey?: unknown } | null;
      await admit(request, typeof body?.writeKey === 'string' ? body.writeKey : undefined);
    },
  };
}
