import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { formatMoney, minorUnitDigits } from '../domain/money.ts';
import { moneySchema } from './customers.schemas.ts';
import { z } from 'zod';
import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { requireScope } from './auth.plugin.ts';
import { problemSchema } from './problem.ts';
import { notFound } from '../services/errors.ts';
import { latestPopulationStats } from '../store/stats.repo.ts';
import { findJob, startRescore } from '../services/jobs.service.ts';

export const jobSchema = z
  .object({
    id: z.string(),
    kind: z.string().describe('rescore | segment_membership | fit_model | preview_policy | sweep | purge_outbox'),
    status: z.enum(['queued', 'running', 'completed', 'failed']),
    progress: z.number().min(0).max(1),
    started_at: z.string().nullable(),
    finished_at: z.string().nullable(),
    result: z.unknown().optional().describe('what a completed job returned; for preview_policy `{ customers, changed, moves: [{ from, to, customers }] }`'),
    error: z.string().optional(),
  })
  .meta({ id: 'Job' });

export const jobAcceptedSchema = z.object({ job_id: z.string() }).meta({ id: 'JobAccepted' });

const STATUS: Record<string, z.infer<typeof jobSchema>['status']> = {
  active: 'running',
  completed: 'completed',
  failed: 'failed',
};

function presentJob(job: Job, state: string) {
  const status = STATUS[state] ?? 'queued';
  const at = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
  return {
    id: job.id!,
    kind: job.name,
    status,
    progress: status === 'completed' ? 1 : typeof job.progress === 'number' ? job.progress : 0,
    started_at: at(job.processedOn),
    finished_at: status === 'completed' || status === 'failed' ? at(job.finishedOn) : null,
    ...(status === 'completed' ? { result: job.returnvalue } : {}),
    ...(status === 'failed' ? { error: job.failedReason } : {}),
  };
}

export async function jobRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = requireScope(keys, 'admin');

  r.post('/v1/rescore', {
    schema: {
      operationId: 'rescore',
      tags: ['scoring'],
      summary: 'Refresh population statistics and rescore every customer now',
      response: { 202: jobAcceptedSchema, 401: problemSchema, 403: problemSchema },
    },
    onRequest: admin,
    handler: async (_request, reply) => reply.code(202).send({ job_id: await startRescore(deps, 'requested') }),
  });

  r.get('/v1/stats', {
    schema: {
      operationId: 'getPopulationStats',
      tags: ['scoring'],
      summary: 'The population statistics scores are computed against (RFM breakpoints p20..p80, ABC cut-offs)',
      response: {
        200: z
          .object({
            version: z.number().int(),
            computed_at: z.string(),
            buyers: z.number().int(),
            breakpoints: z.object({ recency_days: z.array(z.number()), order_count: z.array(z.number()), net_revenue: z.array(z.number()) }).nullable(),
            abc: z.object({ a_min: moneySchema.nullable(), b_min: moneySchema.nullable() }).nullable(),
          })
          .meta({ id: 'PopulationStats' }),
        401: problemSchema,
        403: problemSchema,
        404: problemSchema,
      },
    },
    onRequest: requireScope(keys, 'customers:read'),
    handler: async () => {
      const stats = await latestPopulationStats(deps.db);
      if (!stats) throw notFound('Population statistics (none computed yet)');
      const fmt = (value: string | null) => value && formatMoney(value, minorUnitDigits(deps.config.CURRENCY));
      return { version: stats.version, computed_at: stats.computedAt.toISOString(), buyers: stats.buyers, breakpoints: stats.breakpoints, abc: stats.abc && { a_min: fmt(stats.abc.a_min), b_min: fmt(stats.abc.b_min) } };
    },
  });

  r.get('/v1/jobs/:id', {
    schema: {
      operationId: 'getJob',
      tags: ['scoring'],
      summary: 'Status and progress of a background job',
      params: z.object({ id: z.string().min(1).max(128) }),
      response: { 200: jobSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema },
    },
    onRequest: admin,
    handler: async (request) => {
      const found = await findJob(deps, request.params.id);
      if (!found) throw notFound(`Job "${request.params.id}"`);
      return presentJob(found.job, found.state);
    },
  });
}
