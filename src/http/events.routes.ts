import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { findEvent } from '../store/events.repo.ts';
import { semanticProblems, type IngestContext } from '../domain/events/events.checks.ts';
import { createIngestEnqueuer } from '../services/ingest.service.ts';
import { requireScope } from './auth.plugin.ts';
import { acceptedSchema, batchSchema, eventSchema, MAX_BATCH_EVENTS, storedEventSchema } from '../domain/events/events.schemas.ts';
import { validationProblems, problemSchema } from './problem.ts';
import { AppError, notFound, validationError } from '../services/errors.ts';
import { type FieldProblem } from '../domain/events/field-problem.ts';

const errorResponses = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 413: problemSchema, 429: problemSchema, 503: problemSchema };

export async function eventRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const canWrite = requireScope(keys, 'events:write');

  /** Validation is all-or-nothing: schema and semantic problems are reported together, each once. */
  function validate(request: FastifyRequest, raw: unknown[], ctx: IngestContext): void {
    const schemaProblems: FieldProblem[] = validationProblems(request.validationError?.validation ?? []);
    const seen = new Set(schemaProblems.map((p) => `${p.path}\u0000${p.message}`));
    const problems = [...schemaProblems, ...semanticProblems(raw, ctx).filter((p) => !seen.has(`${p.path}\u0000${p.message}`))];
    if (problems.length > 0) {
      deps.metrics.eventsRejected.inc(raw.length || 1);
      throw validationError(problems, `The request was refused; nothing in it was accepted (${problems.length} problem(s)).`);
    }
  }

  const enqueue = createIngestEnqueuer(deps);

  r.post('/v1/events', {
    schema: {
      operationId: 'postEvent',
      tags: ['events'],
      summary: 'Send one event',
      body: eventSchema,
      response: { 202: acceptedSchema, ...errorResponses },
    },
    attachValidation: true,
    onRequest: canWrite,
    handler: async (request, reply) => {
      const ctx: IngestContext = { receivedAt: deps.clock.now(), currency: deps.config.CURRENCY, pathPrefix: '' };
      validate(request, [request.body], ctx);
      return reply.code(202).send({ accepted: await enqueue([request.body], ctx) });
    },
  });

  r.post('/v1/events/batch', {
    schema: {
      operationId: 'postEventBatch',
      tags: ['events'],
      summary: `Send 1–${MAX_BATCH_EVENTS} events at once (all or nothing, body ≤ 1 MB)`,
      body: batchSchema,
      response: { 202: acceptedSchema, ...errorResponses },
    },
    attachValidation: true,
    onRequest: canWrite,
    preValidation: async (request) => {
      const events = (request.body as { events?: unknown } | null)?.events;
      if (Array.isArray(events) && events.length > MAX_BATCH_EVENTS) {
        throw new AppError(413, 'too_many_events', `A batch holds at most ${MAX_BATCH_EVENTS} events; this one has ${events.length}.`);
      }
    },
    handler: async (request, reply) => {
      const raw = request.body as unknown as { sent_at?: unknown; events?: unknown };
      const sentAt = typeof raw?.sent_at === 'string' && !Number.isNaN(Date.parse(raw.sent_at)) ? raw.sent_at : undefined;
      const ctx: IngestContext = { receivedAt: deps.clock.now(), sentAt, currency: deps.config.CURRENCY, pathPrefix: 'events' };
      validate(request, Array.isArray(raw?.events) ? raw.events : [], ctx);
      return reply.code(202).send({ accepted: await enqueue(request.body.events, ctx) });
    },
  });

  r.get('/v1/events/:id', {
    schema: {
      operationId: 'getEvent',
      tags: ['events'],
      summary: 'Read a stored event (404 until the ingest worker has stored it)',
      params: z.object({ id: z.string().min(1).max(128) }),
      response: { 200: storedEventSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema },
    },
    onRequest: requireScope(keys, 'customers:read'),
    handler: async (request) => {
      const event = await findEvent(deps.db, request.params.id);
      if (!event) throw notFound(`Event "${request.params.id}"`);
      return event;
    },
  });
}
