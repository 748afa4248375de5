import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { replayAllDeadLetters, replayDeadLetter, REPLAY_ALL_LIMIT } from '../services/dead-letters.service.ts';
import { AppError } from '../services/errors.ts';
import { listDeadLetters } from '../store/dead-letters.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { problemSchema } from './problem.ts';

const failureSchema = z.object({ code: z.string().describe('Postgres SQLSTATE'), message: z.string() });

const deadLetterSchema = z
  .object({
    id: z.string(),
    event: z
      .record(z.string(), z.unknown())
      .describe('the event as it was queued: id, type, customer_id, occurred_at, received_at, order_id, data (the type\'s own fields), properties'),
    error: failureSchema.describe('why Postgres refused it, the last time it was tried'),
    first_failed_at: z.string(),
    last_failed_at: z.string(),
    failures: z.number().int().describe('times Postgres refused it (a failed replay adds one)'),
  })
  .meta({ id: 'DeadLetter' });

const replaySchema = z
  .object({
    id: z.string(),
    outcome: z.enum(['stored', 'duplicate']).describe('duplicate: an event with its id (or order id) was stored meanwhile'),
  })
  .meta({ id: 'DeadLetterReplay' });

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };
const idParams = z.object({ id: z.string().regex(/^[1-9]\d{0,17}$/, 'must be a dead letter id') });
const cursorSchema = z.object({ id: z.number().int().positive() });

/** Accepted events Postgres refused (README "Dead letters"): list them, replay them after a fix. */
export async function deadLetterRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = requireScope(keys, 'admin');

  r.get('/v1/dead-letters', {
    schema: {
      operationId: 'listDeadLetters',
      tags: ['events'],
      summary: 'Accepted events Postgres refused, oldest first, with the reason',
      querystring: z.object({
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().max(200).optional(),
      }),
      response: { 200: z.object({ items: z.array(deadLetterSchema), next_cursor: z.string().nullable() }), ...errors },
    },
    onRequest: admin,
    handler: async (request) => {
      const { limit, cursor } = request.query;
      const after = cursor ? decodeCursor(cursor, cursorSchema).id : undefined;
      const rows = await listDeadLetters(deps.db, after, limit + 1);
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return { items: page.map((d) => ({ ...d, event: { ...d.event } })), next_cursor: rows.length > limit && last ? encodeCursor({ id: Number(last.id) }) : null };
    },
  });

  r.post('/v1/dead-letters/:id/replay', {
    schema: {
      operationId: 'replayDeadLetter',
      tags: ['events'],
      summary: 'Store a dead letter again (after a fix); stored, it leaves the list. 422 when Postgres refuses it again (the reason is updated)',
      params: idParams,
      response: { 200: replaySchema, ...errors, 422: problemSchema },
    },
    onRequest: admin,
    handler: async (request) => {
      const outcome = await replayDeadLetter(deps, Number(request.params.id));
      if (outcome.outcome === 'refused') {
        throw new AppError(422, 'replay_refused', `Postgres refused the event again (${outcome.error.code}): ${outcome.error.message}`);
      }
      return { id: outcome.id, outcome: outcome.outcome };
    },
  });

  r.post('/v1/dead-letters/replay', {
    schema: {
      operationId: 'replayAllDeadLetters',
      tags: ['events'],
      summary: `Replay the oldest dead letters, up to ${REPLAY_ALL_LIMIT} per request`,
      response: {
        200: z.object({ stored: z.number().int(), duplicate: z.number().int(), refused: z.number().int() }).meta({ id: 'DeadLetterReplayAll' }),
        401: problemSchema,
        403: problemSchema,
      },
    },
    onRequest: admin,
    handler: async () => replayAllDeadLetters(deps),
  });
}
