import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../auth/api-keys.ts';
import { summaryReport, tierMigration } from '../store/reports.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { problemSchema, validationError } from './problem.ts';

const group = z.object({ key: z.string().nullable(), customers: z.number().int(), share: z.number(), net_revenue: z.string(), revenue_share: z.number() });

const summarySchema = z
  .object({
    customers: z.number().int(),
    buyers: z.number().int(),
    prospects: z.number().int(),
    net_revenue: z.string(),
    by_tier: z.array(group),
    by_lifecycle_stage: z.array(group),
    by_rfm_segment: z.array(group),
    by_abc_class: z.array(group),
    at_risk: z.object({ customers: z.number().int(), net_revenue: z.string(), revenue_share: z.number() }),
    top_20_percent_revenue_share: z.number().describe('Pareto: revenue share of the top 20% of buyers'),
  })
  .meta({ id: 'SummaryReport' });

const migrationSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    cells: z.array(z.object({ from_tier: z.string().nullable(), to_tier: z.string().nullable(), customers: z.number().int() })),
  })
  .meta({ id: 'TierMigration' });

export async function reportRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const canRead = requireScope(keys, 'customers:read');
  const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema };

  r.get('/v1/reports/summary', {
    schema: { operationId: 'summaryReport', tags: ['reports'], summary: 'Customers and revenue per tier, stage, RFM segment and ABC class', response: { 200: summarySchema, ...errors } },
    onRequest: canRead,
    handler: () => summaryReport(deps.db),
  });

  r.get('/v1/reports/tier-migration', {
    schema: {
      operationId: 'tierMigrationReport',
      tags: ['reports'],
      summary: 'How many customers moved from each tier at `from` to each tier at `to` (null: no tier)',
      querystring: z.object({ from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }).optional() }),
      response: { 200: migrationSchema, ...errors },
    },
    onRequest: canRead,
    handler: async (request) => {
      const from = new Date(request.query.from);
      const to = request.query.to ? new Date(request.query.to) : deps.clock.now();
      if (to < from) throw validationError([{ path: 'to', message: 'must not be before from' }]);
      return { from: from.toISOString(), to: to.toISOString(), cells: await tierMigration(deps.db, from, to) };
    },
  });
}
