import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { hasScope, type KeyStore, type Principal, type Scope } from '../services/api-keys.service.ts';
import { AppError } from '../services/errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

const BEARER = /^Bearer\s+(\S+)$/i;

/** onRequest hook: 401 without a valid key, 403 without the scope. */
export function requireScope(keys: KeyStore, scope: Scope): onRequestHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const match = BEARER.exec(request.headers.authorization ?? '');
    if (!match) {
      throw new AppError(401, 'unauthorized', 'Send an API key as "Authorization: Bearer <key>".', undefined, {
        'www-authenticate': 'Bearer',
      });
    }
    const principal = await keys.authenticate(match[1]!);
    if (!principal) {
      throw new AppError(401, 'unauthorized', 'The API key is unknown or revoked.', undefined, {
        'www-authenticate': 'Bearer error="invalid_token"',
      });
    }
    request.principal = principal;
    if (!hasScope(principal, scope)) {
      throw new AppError(403, 'forbidden', `This API key lacks the "${scope}" scope.`);
    }
  };
}
