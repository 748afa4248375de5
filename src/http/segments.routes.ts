import { randomUUID } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { stringify } from 'csv-stringify';
import QueryStream from 'pg-query-stream';
import { formatMoney, minorUnitDigits } from '../domain/money.ts';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { parseRule, type Rule } from '../domain/rules/rules.ts';
import { orderSegments } from '../domain/rules/segments.ts';
import * as repo from '../store/segments.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { problemSchema } from './problem.ts';
import { AppError, notFound, validationError } from '../services/errors.ts';

const KEY = /^[a-z0-9_-]{1,64}$/;
const segmentSchema = z
  .object({ key: z.string(), name: z.string(), rule: z.record(z.string(), z.unknown()), created_at: z.string(), updated_at: z.string() })
  .meta({ id: 'Segment' });
const segmentBody = z.strictObject({
  name: z.string().min(1).max(200),
  rule: z.record(z.string(), z.unknown()).describe('a rule of the rule language (see README)'),
});
const keyParams = z.object({ key: z.string().regex(KEY, 'must be 1-64 characters of a-z, 0-9, _ or -') });

export const EXPORT_COLUMNS = [
  'customer_id', 'email', 'tier', 'lifecycle_stage', 'rfm_segment', 'abc_class', 'value_score',
  'net_revenue', 'order_count', 'last_order_at', 'at_risk', 'region',
] as const;

const present = (s: repo.SegmentRow) => ({ key: s.key, name: s.name, rule: s.rule, created_at: s.createdAt.toISOString(), updated_at: s.updatedAt.toISOString() });

export async function segmentRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = requireScope(keys, 'admin');
  const canRead = requireScope(keys, 'customers:read');
  const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };

  /** Validates the rule and that the whole set of segments stays free of cycles. */
  async function checkRule(key: string, rule: unknown): Promise<Rule> {
    const parsed = parseRule(rule, { path: 'rule' });
    if (!parsed.ok) throw validationError(parsed.errors, 'The segment rule is invalid; see errors.');
    const others = (await repo.listSegments(deps.db)).filter((s) => s.key !== key).map(repo.toDefinition);
    const ordered = orderSegments([...others, { key, rule: parsed.rule }]);
    if (!ordered.ok) throw validationError([{ path: 'rule', message: ordered.message }]);
    return parsed.rule;
  }
  async function startMembership(segment: string) {
    const job = await deps.queues.maintenance.add('segment_membership', { kind: 'segment_membership', segment }, { jobId: `job_${randomUUID()}` });
    return job.id!;
  }

  r.get('/v1/segments', {
    schema: { operationId: 'listSegments', tags: ['segments'], summary: 'Saved segments', response: { 200: z.object({ items: z.array(segmentSchema) }), ...errors } },
    onRequest: canRead,
    handler: async () => ({ items: (await repo.listSegments(deps.db)).map(present) }),
  });

  r.get('/v1/segments/:key', {
    schema: { operationId: 'getSegment', tags: ['segments'], summary: 'One saved segment', params: keyParams, response: { 200: segmentSchema, ...errors } },
    onRequest: canRead,
    handler: async (request) => {
      const segment = await repo.findSegment(deps.db, request.params.key);
      if (!segment) throw notFound(`Segment "${request.params.key}"`);
      return present(segment);
    },
  });

  r.put('/v1/segments/:key', {
    schema: {
      operationId: 'putSegment', tags: ['segments'],
      summary: 'Create or replace a saved segment; membership is computed by a job',
      params: keyParams, body: segmentBody,
      response: { 202: z.object({ segment: segmentSchema, job_id: z.string() }), ...errors },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      const rule = await checkRule(request.params.key, request.body.rule);
      const saved = await repo.upsertSegment(deps.db, { key: request.params.key, name: request.body.name, rule }, deps.clock.now());
      return reply.code(202).send({ segment: present(saved), job_id: await startMembership(saved.key) });
    },
  });

  r.delete('/v1/segments/:key', {
    schema: { operationId: 'deleteSegment', tags: ['segments'], summary: 'Delete a saved segment (refused while another refers to it)', params: keyParams, response: { 204: z.null(), ...errors } },
    onRequest: admin,
    handler: async (request, reply) => {
      const others = (await repo.listSegments(deps.db)).filter((s) => s.key !== request.params.key).map(repo.toDefinition);
      const ordered = orderSegments(others);
      if (!ordered.ok) throw new AppError(409, 'segment_in_use', `Segment "${request.params.key}" is referred to by another segment: ${ordered.message}.`);
      if (!(await repo.deleteSegment(deps.db, request.params.key))) throw notFound(`Segment "${request.params.key}"`);
      return reply.code(204).send(null);
    },
  });

  r.get('/v1/segments/:key/customers', {
    schema: {
      operationId: 'listSegmentMembers', tags: ['segments'], summary: 'Members of a segment, by customer id',
      params: keyParams,
      querystring: z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100), cursor: z.string().optional() }),
      response: { 200: z.object({ items: z.array(z.object({ customer_id: z.string(), entered_at: z.string() })), next_cursor: z.string().nullable() }), ...errors },
    },
    onRequest: canRead,
    handler: async (request) => {
      if (!(await repo.findSegment(deps.db, request.params.key))) throw notFound(`Segment "${request.params.key}"`);
      const { limit, cursor } = request.query;
      const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : undefined;
      const rows = await repo.pageMembers(deps.db, request.params.key, limit + 1, after);
      const page = rows.slice(0, limit);
      return {
        items: page.map((m) => ({ customer_id: m.customerId, entered_at: m.enteredAt.toISOString() })),
        next_cursor: rows.length > limit ? Buffer.from(page.at(-1)!.customerId).toString('base64url') : null,
      };
    },
  });

  r.get('/v1/segments/:key/export', {
    schema: {
      operationId: 'exportSegment', tags: ['segments'],
      summary: 'Every member with its tier and scores, streamed as CSV or NDJSON',
      params: keyParams,
      querystring: z.object({ format: z.enum(['csv', 'ndjson']).default('csv') }),
      response: { 200: z.string().describe('CSV with a header row, or one JSON object per line'), ...errors },
    },
    onRequest: canRead,
    handler: async (request, reply) => {
      if (!(await repo.findSegment(deps.db, request.params.key))) throw notFound(`Segment "${request.params.key}"`);
      const { format } = request.query;
      const client = await deps.pool.connect();
      // A server-side cursor: rows flow to the response as it drains, so memory stays flat.
      const rows = client.query(
        new QueryStream(
          `select c.id as customer_id, c.traits ->> 'email' as email, c.tier, c.lifecycle_stage, c.rfm_segment, c.abc_class,
                  c.value_score, c.net_revenue::text as net_revenue, c.order_count, c.last_order_at, c.at_risk, c.region
           from segment_members m join customers c on c.id = m.customer_id
           where m.segment_key = $1 order by m.customer_id`,
          [request.params.key],
          { batchSize: 1000 },
        ),
      );
      const encode =
        format === 'csv'
          ? stringify({ header: true, columns: [...EXPORT_COLUMNS], cast: { date: (d) => d.toISOString(), boolean: (b) => String(b) } })
          : new Transform({ objectMode: true, transform: (row, _enc, done) => done(null, `${JSON.stringify(row)}\n`) });
      const minorDigits = minorUnitDigits(deps.config.CURRENCY);
      const asMoney = new Transform({
        objectMode: true,
        transform: (row: { net_revenue: string }, _enc, done) => done(null, { ...row, net_revenue: formatMoney(row.net_revenue, minorDigits) }),
      });
      reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="${request.params.key}.${format}"`);
      const done = pipeline(rows, asMoney, encode).finally(() => client.release());
      done.catch((err) => request.log.error({ err }, 'segment export failed'));
      return reply.send(encode as unknown as string);
    },
  });
}
