import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { fitOutcome, startModelFit } from '../services/model-fit.service.ts';
import { currentFit, latestFitAttempt, type StoredFit } from '../store/model.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { jobAcceptedSchema } from './jobs.routes.ts';
import { problemSchema } from './problem.ts';

/** as_of may run ahead of the server clock by the same skew ingest accepts */

const bgnbdSchema = z.object({ r: z.number(), alpha: z.number(), a: z.number(), b: z.number(), log_likelihood: z.number() });
const gammaGammaSchema = z.object({ p: z.number(), q: z.number(), v: z.number(), log_likelihood: z.number() });

const attemptSchema = z.object({
  attempted_at: z.string(),
  as_of: z.string(),
  status: z.enum(['fitted', 'refused']),
  activated: z.boolean().describe('whether the fit became the model in force (false for a refused or not activated fit)'),
  reason: z.string().nullable().describe('why a fit was refused (the previous fit stays in force)'),
  customers: z.number().int().describe('buyers the fit saw'),
  duration_ms: z.number().int(),
  bgnbd: bgnbdSchema.nullable().describe("this attempt's BG/NBD parameters; null when refused"),
  gamma_gamma: gammaGammaSchema.nullable(),
});

const modelSchema = z
  .object({
    bgnbd: bgnbdSchema.nullable().describe('BG/NBD parameters (time in weeks); null until a fit is activated'),
    gamma_gamma: gammaGammaSchema.nullable(),
    fitted_at: z.string().nullable(),
    as_of: z.string().nullable().describe('orders after this instant were not observed by the fit'),
    customers: z.number().int().nullable().describe('buyers in the fit'),
    last_attempt: attemptSchema.nullable().describe('the most recent fit attempt: activated, not activated (a backtest) or refused'),
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
          ...fitOutcome(attempt),
          reason: attempt.reason,
          customers: attempt.customers,
          duration_ms: attempt.durationMs,
          bgnbd: attempt.params?.bgnbd ?? null,
          gamma_gamma: attempt.params?.gamma_gamma ?? null,
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
      summary: 'Fit the model on every order up to as_of (default now); an activated fit replaces the model in force and rescores every customer',
      body: z
        .strictObject({
          as_of: z.iso.datetime({ offset: true }).optional().describe('orders after this instant are not observed'),
          activate: z
            .boolean()
            .optional()
            .describe(
              'whether a successful fit becomes the model in force and every customer is rescored. Default: true without as_of, ' +
                'false with as_of (a backtest is recorded, shown as last_attempt in GET /v1/model, and changes nothing)',
            ),
        })
        .nullish()
        .describe('optional; no body fits on every order up to now'),
      response: { 202: jobAcceptedSchema, 400: problemSchema, ...errors },
    },
    onRequest: requireScope(keys, 'admin'),
    handler: async (request, reply) => {
      const jobId = await startModelFit(deps, { asOf: request.body?.as_of ? new Date(request.body.as_of) : null, activate: request.body?.activate });
      return reply.code(202).send({ job_id: jobId });
    },
  });
}
