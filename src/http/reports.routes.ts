import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { summaryReport, tierMigration } from '../store/reports.repo.ts';
import { atRiskBreakdown, paretoCurve, rfmGrid, segmentSizes } from '../store/reports.distribution.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { problemSchema } from './problem.ts';
import { validationError } from '../services/errors.ts';
import { cachedReport, maxAgeQuery } from './report-cache.ts';
import { instantString } from './common.schemas.ts';
import { moneySchema } from './customers.schemas.ts';
import { minorUnitDigits } from '../domain/money.ts';

const computedAt = z.string().describe('when this report was computed (RFC 3339 UTC); older than now only when `max_age` allowed it');

const group = z.object({ key: z.string().nullable(), customers: z.number().int(), share: z.number(), net_revenue: moneySchema, revenue_share: z.number() });

const summarySchema = z
  .object({
    customers: z.number().int(),
    buyers: z.number().int(),
    prospects: z.number().int(),
    net_revenue: moneySchema,
    by_tier: z.array(group),
    by_lifecycle_stage: z.array(group),
    by_rfm_segment: z.array(group),
    by_abc_class: z.array(group),
    at_risk: z.object({ customers: z.number().int(), net_revenue: moneySchema, revenue_share: z.number() }),
    top_20_percent_revenue_share: z.number().describe('Pareto: revenue share of the top 20% of buyers'),
    currency: z.string().describe('the ISO 4217 currency every amount is in (`CURRENCY`)'),
    computed_at: computedAt,
  })
  .meta({ id: 'SummaryReport' });

const migrationSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    cells: z.array(z.object({ from_tier: z.string().nullable(), to_tier: z.string().nullable(), customers: z.number().int() })),
  })
  .meta({ id: 'TierMigration' });

const rfmGridSchema = z
  .object({
    buyers: z.number().int(),
    cells: z.array(
      z.object({ r_score: z.number().int(), f_score: z.number().int(), segment: z.string(), customers: z.number().int(), net_revenue: moneySchema }),
    ).describe('all 25 cells, R 5→1 then F 1→5; empty cells have 0 customers'),
    computed_at: computedAt,
  })
  .meta({ id: 'RfmGridReport' });

const paretoSchema = z
  .object({
    buyers: z.number().int(),
    points: z.array(
      z.object({
        buyer_share: z.number().describe('share of buyers, biggest spenders first'),
        revenue_share: z.number().describe('share of net revenue those buyers bring'),
        min_net_revenue: moneySchema.nullable().describe('approximate lowest net revenue among them'),
      }),
    ),
    computed_at: computedAt,
  })
  .meta({ id: 'ParetoReport' });

const atRiskReportSchema = z
  .object({
    customers: z.number().int(),
    net_revenue: moneySchema.describe('net revenue of the at-risk customers'),
    by_reason: z.array(z.object({ code: z.string(), customers: z.number().int(), net_revenue: moneySchema })).describe('a customer counts once per reason'),
    computed_at: computedAt,
  })
  .meta({ id: 'AtRiskReport' });

const segmentSizesSchema = z.object({ items: z.array(z.object({ key: z.string(), members: z.number().int() })) }).meta({ id: 'SegmentSizesReport' });

export async function reportRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const canRead = requireScope(keys, 'customers:read');
  const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema };
  const minorDigits = minorUnitDigits(deps.config.CURRENCY);

  r.get('/v1/reports/summary', {
    schema: { operationId: 'summaryReport', tags: ['reports'], summary: 'Customers and revenue per tier, stage, RFM segment and ABC class', querystring: maxAgeQuery, response: { 200: summarySchema, ...errors } },
    onRequest: canRead,
    handler: (request) => cachedReport(deps, 'summary', request.query.max_age, async () => ({ ...(await summaryReport(deps.db, minorDigits)), currency: deps.config.CURRENCY })),
  });

  r.get('/v1/reports/tier-migration', {
    schema: {
      operationId: 'tierMigrationReport',
      tags: ['reports'],
      summary: 'How many customers moved from each tier at `from` to each tier at `to` (null: no tier)',
      querystring: z.object({ from: instantString({ offset: true }), to: instantString({ offset: true }).optional() }),
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

  r.get('/v1/reports/rfm-grid', {
    schema: { operationId: 'rfmGridReport', tags: ['reports'], summary: 'Buyers and net revenue in each cell of the 5×5 R×F grid, with its RFM segment', querystring: maxAgeQuery, response: { 200: rfmGridSchema, ...errors } },
    onRequest: canRead,
    handler: (request) => cachedReport(deps, 'rfm-grid', request.query.max_age, () => rfmGrid(deps.db, minorDigits)),
  });

  r.get('/v1/reports/pareto', {
    schema: { operationId: 'paretoReport', tags: ['reports'], summary: 'Cumulative revenue share by cumulative share of buyers, biggest spenders first', querystring: maxAgeQuery, response: { 200: paretoSchema, ...errors } },
    onRequest: canRead,
    handler: (request) => cachedReport(deps, 'pareto', request.query.max_age, () => paretoCurve(deps.db, minorDigits)),
  });

  r.get('/v1/reports/at-risk', {
    schema: { operationId: 'atRiskReport', tags: ['reports'], summary: 'At-risk customers and their net revenue, in total and per reason', querystring: maxAgeQuery, response: { 200: atRiskReportSchema, ...errors } },
    onRequest: canRead,
    handler: (request) => cachedReport(deps, 'at-risk', request.query.max_age, () => atRiskBreakdown(deps.db, minorDigits)),
  });

  r.get('/v1/reports/segment-sizes', {
    schema: { operationId: 'segmentSizesReport', tags: ['reports'], summary: 'Members of every saved segment', response: { 200: segmentSizesSchema, ...errors } },
    onRequest: canRead,
    handler: async () => ({ items: await segmentSizes(deps.db) }),
  });
}
