import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../auth/api-keys.ts';
import { currentFit, latestFitAttempt, type StoredFit } from '../store/model.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { jobAcceptedSchema } from './jobs.routes.ts';
import { AppError, problemSchema } from './problem.ts';

/** as_of may run ahead of the server clock by the same skew ingest accepts */
const MAX_FUTURE_MS = 5 * 60_000;

const attemptSchema = z.object({
  attempted_at: z.string(),
  as_of: z.string(),
  status: z.enum(['fitted', 'refused']),
  reason: z.string().nullable().describe('why a fit was refused (the previous fit stays in force)'),
  customers: z.number().int().describe('buyers the fit saw'),
  duration_ms: z.number().int(),
});

const modelSchema = z
  .object({
    bgnbd: z
      .object({ r: z.number(), alpha: z.number(), a: z.number(), b: z.number(), log_likelihood: z.number() })
      .nullable()
      .describe('BG/NBD parameters (time in weeks); null until a fit succeeds'),
    gamma_gamma: z.object({ p: z.number(), q: z.number(), v: z.number(), log_likelihood: z.number() }).nullable(),
    fitted_at: z.string().nullable(),
    as_of: z.string().nullable().describe('orders after this instant were not observed by the fit'),
    customers: z.number().int().nullable().describe('buyers in the fit'),
    last_attempt: attemptSchema.nullable().describe('the most recent fit attempt, successful or not'),
  })
  .meta({ id: 'Model' });

const iso = (d: Date) => d.toISOString();

function presentModel(fit: StoredFit | undefined, attempt: StoredFit | undefined): z.infer<typeof modelSchema> {
  return {
    bgnbd: fit?.params?.bgnbd ?? null,
    gamma_gamma: fit?.params?.gamma_gamma ?? null,
    fitted_at: fit ? iso(fit.attemptedAt) : null,
    as_of: fit ? iso(fit.asOf) : null,
    customers: fit?.customers ?? null,
    last_attempt: attempt
      ? {
          attempted_at: iso(attempt.attemptedAt),
          as_of: iso(attempt.asOf),
          status: attempt.status,
          reason: attempt.reason,
          customers: attempt.customers,
          duration_ms: attempt.durationMs,
        }
      : null,
  };
}

export async function modelRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const errors = { 401: problemSchema, 403: problemSchema };

  r.get('/v1/model', {
    schema: {
      operationId: 'getModel',
      tags: ['predictions'],
      summary: 'The prediction model in force (BG/NBD + Gamma-Gamma), and the last fit attempt',
      response: { 200: modelSchema, ...errors },
    },
    onRequest: requireScope(keys, 'customers:read'),
    handler: async () => {
      const [fit, attempt] = await Promise.all([currentFit(deps.db), latestFitAttempt(deps.db)]);
      return presentModel(fit, attempt);
    },
  });

  r.post('/v1/model/fit', {
    schema: {
      operationId: 'fitModel',
      tags: ['predictions'],
      summary: 'Fit the model now on every order up to as_of (default now), then rescore every customer',
      body: z
        .strictObject({ as_of: z.iso.datetime({ offset: true }).optional().describe('orders after this instant are not observed') })
        .nullish()
        .describe('optional; no body fits on every order up to now'),
      response: { 202: jobAcceptedSchema, 400: problemSchema, ...errors },
    },
    onRequest: requireScope(keys, 'admin'),
    handler: async (request, reply) => {
      const asOf = request.body?.as_of ? new Date(request.body.as_of) : null;
      if (asOf && asOf.getTime() > deps.clock.now().getTime() + MAX_FUTURE_MS) {
        throw new AppError(400, 'validation_failed', 'as_of lies in the future.', [{ path: 'as_of', message: 'must not be in the future' }]);
      }
      const job = await deps.queues.maintenance.add(
        'fit_model',
        { kind: 'fit_model', as_of: asOf?.toISOString() ?? null, reason: 'requested' },
        { jobId: `job_${randomUUID()}` },
      );
      return reply.code(202).send({ job_id: job.id! });
    },
  });
}
