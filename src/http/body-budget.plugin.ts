import type { FastifyInstance } from 'fastify';
import { AppError } from '../services/errors.ts';

/**
 * Bounds the request bodies the API holds at once: a body's bytes (as declared, or the route's
 * limit when it is sent chunked) are reserved before it is read and released when its response
 * is done. Parsed, validated and queued, a body is held as several times its size in objects, so
 * this bound, not the number of connections, is what caps the memory requests use (and lets the
 * API run under a V8 heap ceiling, see README). Past it the answer is 503 with Retry-After.
 */
export function registerBodyBudget(app: FastifyInstance, maxBytes: number): void {
  let reserved = 0;
  app.addHook('preParsing', async (request, reply, payload) => {
    const declared = Number(request.headers['content-length'] ?? Number.NaN);
    const limit = request.routeOptions.bodyLimit ?? maxBytes;
    const bytes = Number.isFinite(declared) ? Math.min(declared, limit) : request.headers['transfer-encoding'] ? limit : 0;
    if (bytes === 0) return payload;
    if (reserved > 0 && reserved + bytes > maxBytes) {
      throw new AppError(503, 'unavailable', 'The API holds as many request bodies as it may at once; retry shortly.', undefined, { 'retry-after': '1' });
    }
    reserved += bytes;
    reply.raw.once('close', () => (reserved -= bytes));
    return payload;
  });
}
