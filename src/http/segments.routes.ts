import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { stringify } from 'csv-stringify';
import { formatMoney, minorUnitDigits } from '../domain/money.ts';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { neutraliseFormula } from '../domain/csv.ts';
import { deleteSegment, findSegmentOr404, saveSegment } from '../services/segments.service.ts';
import { EXPORT_COLUMNS, streamSegmentMembers, type ExportRow } from '../store/segments.export.repo.ts';
import * as repo from '../store/segments.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { problemSchema } from './problem.ts';
import { AppError } from '../services/errors.ts';

const KEY = /^[a-z0-9_-]{1,64}$/;
const segmentSchema = z
  .object({ key: z.string(), name: z.string(), rule: z.record(z.string(), z.unknown()), created_at: z.string(), updated_at: z.string() })
  .meta({ id: 'Segment' });
const segmentBody = z.strictObject({
  name: z.string().min(1).max(200),
  rule: z.record(z.string(), z.unknown()).describe('a rule of the rule language (see README)'),
});
const keyParams = z.object({ key: z.string().regex(KEY, 'must be 1-64 characters of a-z, 0-9, _ or -') });


/** CSV only: text cells a spreadsheet would run as a formula get a leading quote (numbers stay as they are). */
const csvCells = () =>
  new Transform({
    objectMode: true,
    transform: (row: ExportRow, _enc, done) =>
      done(null, Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'string' && !NUMERIC_COLUMNS.has(k) ? neutraliseFormula(v) : v]))),
  });
const NUMERIC_COLUMNS = new Set(['net_revenue']);
const csvWriter = () =>
  stringify({ header: true, columns: [...EXPORT_COLUMNS], cast: { date: (d) => d.toISOString(), boolean: (b) => String(b) } });

/**
 * Calls `onStall` once `res` has been waiting for its client to take data (its buffer full) for
 * `ms` without any byte leaving; time spent waiting for the database does not count.
 */
function watchStall(res: ServerResponse, ms: number, onStall: () => void): () => void {
  let progressAt = Date.now();
  let sent = -1;
  const timer = setInterval(() => {
    const now = Date.now();
    const bytes = res.socket?.bytesWritten ?? 0;
    if (!res.writableNeedDrain || bytes !== sent) {
      sent = bytes;
      progressAt = now;
    } else if (now - progressAt >= ms) {
      clearInterval(timer);
      onStall();
    }
  }, Math.max(50, Math.floor(ms / 10))).unref();
  return () => clearInterval(timer);
}

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
      reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
        .header('content-disposition', `attachment; filename="${request.params.key}.${format}"`);
      // HEAD (which fastify answers with this handler) has no body: no export connection for it,
      // and no export started only to be cut off. Sent without a payload, as a string would gain a
      // charset the download's content type does not have.
      if (request.method === 'HEAD') return reply.send(undefined as unknown as string);
      const cursor = await streamSegmentMembers(deps.exportPool, request.params.key).catch((err: Error) => {
        if (/timeout exceeded when trying to connect/i.test(err.message)) {
          throw new AppError(503, 'unavailable', 'Every export connection is busy with other downloads; retry shortly.', undefined, { 'retry-after': '5' });
        }
        throw err;
      });
      const encode = new Transform({
        writableObjectMode: format === 'ndjson',
        transform: (chunk, _enc, done) => done(null, format === 'ndjson' ? `${JSON.stringify(chunk)}\n` : chunk),
      });
      const minorDigits = minorUnitDigits(deps.config.CURRENCY);
      const asMoney = new Transform({
        objectMode: true,
        transform: (row: ExportRow, _enc, done) => done(null, { ...row, net_revenue: formatMoney(String(row.net_revenue), minorDigits) }),
      });
      const stages: Transform[] = [asMoney, ...(format === 'csv' ? [csvCells(), csvWriter()] : [])];
      // A client that stops reading holds an export connection: once the response has waited for
      // it to read for EXPORT_STALL_TIMEOUT_MS the download is dropped and the connection closed.
      const stopWatch = watchStall(reply.raw, deps.config.EXPORT_STALL_TIMEOUT_MS, () => {
        encode.destroy(new Error(`segment export stalled: the client read nothing for ${deps.config.EXPORT_STALL_TIMEOUT_MS} ms`));
        reply.raw.destroy();
      });
      reply.raw.once('close', () => {
        stopWatch();
        if (!reply.raw.writableFinished) encode.destroy(new Error('segment export aborted: the client went away'));
      });
      pipeline([cursor.rows, ...stages, encode]).then(
        () => cursor.release(),
        (err: Error) => {
          cursor.release(err);
          request.log.warn({ err: err.message }, 'segment export ended early');
        },
      );
      return reply.send(encode as unknown as string);
    },
  });
}
