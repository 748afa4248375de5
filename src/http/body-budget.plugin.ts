import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../services/errors.ts';

export interface BodyBudgets {
  /** Bytes of bodies held at once by requests with an authenticated key (MAX_BODY_BYTES_IN_FLIGHT). */
  keyed: number;
  /**
   * Bytes held at once by requests with no key yet: `/compat/segment` calls that carry their
   * write key in the body (MAX_KEYLESS_BODY_BYTES_IN_FLIGHT). Kept apart, so clients without a
   * key can never use up what keyed clients need.
   */
  keyless: number;
}

/** One budget: bytes held now, and the most it may hold. */
class Budget {
  held = 0;
  constructor(readonly max: number) {}
}

const full = () =>
  new AppError(503, 'unavailable', 'The API holds as many request bodies as it may at once; retry shortly.', undefined, { 'retry-after': '1' });

/**
 * Bounds the request bodies the API holds at once, counting the bytes actually read (never what
 * a client declares, so a client that announces a big body and sends one byte holds one byte).
 * A request's bytes are held until its response is done: parsed, validated and queued, a body
 * lives on as several times its size in objects, so this bound, not the number of connections,
 * caps the memory requests use (and lets the API run under a V8 heap ceiling, see README). A
 * chunk that would pass the budget while other requests hold part of it is a 503 with
 * Retry-After. Authentication runs in onRequest, before this preParsing hook, so whether a
 * request has a key is known before any of its body is read.
 */
export function registerBodyBudget(app: FastifyInstance, budgets: BodyBudgets): void {
  const keyed = new Budget(budgets.keyed);
  const keyless = new Budget(budgets.keyless);
  app.addHook('preParsing', async (request: FastifyRequest, reply, payload) => {
    if (!request.headers['content-length'] && !request.headers['transfer-encoding']) return payload;
    const budget = request.principal ? keyed : keyless;
    let mine = 0;
    let answered = false;
    reply.raw.once('close', () => {
      answered = true;
      budget.held -= mine;
      mine = 0;
    });
    const counted = new Transform({
      transform(chunk: Buffer, _enc, done) {
        // A body still arriving after its response (a GET answered without reading its body, a
        // 413 mid-stream) is only drained: counted now, it would never be given back.
        if (answered) return done();
        if (budget.held > mine && budget.held + chunk.length > budget.max) return done(full());
        budget.held += chunk.length;
        mine += chunk.length;
        done(null, chunk);
      },
    });
    payload.on('error', (err) => counted.destroy(err));
    // The 503 reaches the body's reader through its own listener; a route that never reads its
    // body (a GET) has none, and an unheard 'error' event would end the process.
    counted.on('error', () => {});
    return payload.pipe(counted);
  });
}
