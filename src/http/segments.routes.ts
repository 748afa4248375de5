import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { stringify } from 'csv-stringify';
import { formatMoney, minorUnitDigits } from '../domain/money.ts';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { deleteSegment, findSegmentOr404, saveSegment } from '../services/segments.service.ts';
import { EXPORT_COLUMNS, streamSegmentMembers } from '../store/segments.export.repo.ts';
import * as repo from '../store/segments.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { problemSchema } from './problem.ts';

const KEY = /^[a-z0-9_-]{1,64}$/;
const segmentSchema = z
  .object({ key: z.string(), name: z.string(), rule: z.record(z.string(), z.unknown()), created_at: z.string(), updated_at: z.string() })
  .meta({ id: 'Segment' });
const segmentBody = z.strictObject({
  name: z.string().min(1).max(200),
  rule: z.record(z.string(), z.unknown()).describe('a rule of the rule language (see README)'),
});
const keyParams = z.object({ key: z.string().regex(KEY, 'must be 1-64 characters of a-z, 0-9, _ or -') });


const present = (s: repo.SegmentRow) => ({ key: s.key, name: s.name, rule: s.rule, created_at: s.createdAt.toISOString(), updated_at: s.updatedAt.toISOString() });

export async function segmentRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = requireScope(keys, 'admin');
  const canRead = requireScope(keys, 'customers:read');
  const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };

  r.get('/v1/segments', {
    schema: { operationId: 'listSegments', tags: ['segments'], summary: 'Saved segments', response: { 200: z.object({ items: z.array(segmentSchema) }), ...errors } },
    onRequest: canRead,
    handler: async () => ({ items: (await repo.listSegments(deps.db)).map(present) }),
  });

  r.get('/v1/segments/:key', {
    schema: { operationId: 'getSegment', tags: ['segments'], summary: 'One saved segment', params: keyParams, response: { 200: segmentSchema, ...errors } },
    onRequest: canRead,
    handler: async (request) => {
      return present(await findSegmentOr404(deps, request.params.key));
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
      const { segment, jobId } = await saveSegment(deps, { key: request.params.key, ...request.body });
      return reply.code(202).send({ segment: present(segment), job_id: jobId });
    },
  });

  r.delete('/v1/segments/:key', {
    schema: { operationId: 'deleteSegment', tags: ['segments'], summary: 'Delete a saved segment (refused while another refers to it)', params: keyParams, response: { 204: z.null(), ...errors } },
    onRequest: admin,
    handler: async (request, reply) => {
      await deleteSegment(deps, request.params.key);
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
      await findSegmentOr404(deps, request.params.key);
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
      await findSegmentOr404(deps, request.params.key);
      const { format } = request.query;
      // Rows flow to the response as it drains, so memory stays flat.
      const { rows, release } = await streamSegmentMembers(deps.pool, request.params.key);
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
      const done = pipeline(rows, asMoney, encode).finally(release);
      done.catch((err) => request.log.error({ err }, 'segment export failed'));
      return reply.send(encode as unknown as string);
    },
  });
}
