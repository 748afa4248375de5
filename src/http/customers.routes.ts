import type { FastifyInstance, FastifyReply } from 'fastify';
import { minorUnitDigits } from '../domain/money.ts';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { eraseCustomer, findCustomer, type Playbooks } from '../store/customers.repo.ts';
import { CUSTOMER_SORTS, listCustomers } from '../store/customers.list.repo.ts';
import { LIFECYCLE_STAGES } from '../domain/lifecycle/lifecycle.types.ts';
import { ABC_CLASSES, RFM_SEGMENTS } from '../domain/scoring/scores.ts';
import { PRICE_SENSITIVITIES } from '../domain/facts/metrics.ts';
import { MONEY_COLUMN_INTEGER_DIGITS, MONEY_SCALE } from '../domain/money.ts';
import { listHistory } from '../store/history.repo.ts';
import { survivorOf } from '../store/identity.repo.ts';
import { currentPolicy } from '../store/policies.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { instantString, isMoneyText, isPgTimestampText } from './common.schemas.ts';
import { problemSchema } from './problem.ts';
import { notFound, validationError } from '../services/errors.ts';
import { customerSchema, historyPageSchema } from './customers.schemas.ts';

const score = z.coerce.number().int().min(1).max(5);
const listQuery = z.object({
  tier: z.string().max(64).optional(),
  lifecycle_stage: z.enum(LIFECYCLE_STAGES).optional(),
  rfm_segment: z.enum(RFM_SEGMENTS).optional(),
  abc_class: z.enum(ABC_CLASSES).optional(),
  at_risk: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  region: z.string().max(128).optional(),
  preferred_channel: z.string().max(64).optional(),
  price_sensitivity: z.enum(PRICE_SENSITIVITIES).optional(),
  min_net_revenue: z
    .string()
    .regex(new RegExp(`^\\d{1,${MONEY_COLUMN_INTEGER_DIGITS}}(\\.\\d{1,${MONEY_SCALE}})?$`), 'must be a decimal')
    .optional(),
  max_recency_days: z.coerce.number().min(0).max(100_000).optional(),
  segment: z.string().max(64).optional().describe('key of a saved segment'),
  r_score: score.optional(),
  f_score: score.optional().describe('with r_score: one cell of the RFM grid'),
  m_score: score.optional(),
  sort: z.enum(CUSTOMER_SORTS).default('id'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional(),
});
const listCursor = z.object({ s: z.string(), k: z.string(), id: z.string() });

/** A cursor's sort key must be what Postgres prints for that sort, else it would reach SQL as garbage. */
function sortKeyFits(sort: string, key: string): boolean {
  if (sort.endsWith('net_revenue')) return isMoneyText(key);
  if (sort.endsWith('last_order_at')) return isPgTimestampText(key);
  return true;
}

const customerId = z.object({ id: z.string().min(1).max(128) });

const mergedRedirect = z.null().describe('the id was merged into another customer (docs/architecture.md, Identity): Location names the survivor');

/** 308, not 301: a client follows it with the same method (a DELETE erases the survivor's whole profile). */
function redirectToSurvivor(reply: FastifyReply, survivor: string) {
  return reply.code(308).header('location', `/v1/customers/${encodeURIComponent(survivor)}`).send(null);
}
const historyCursor = z.object({ at: instantString(), id: z.number().int() });

async function currentPlaybooks(deps: Deps): Promise<Playbooks> {
  const { policy } = await currentPolicy(deps.db);
  return Object.fromEntries(policy.tiers.map((t) => [t.key, t.playbook ?? null]));
}

export async function customerRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const canRead = requireScope(keys, 'customers:read');

  r.get('/v1/customers', {
    schema: {
      operationId: 'listCustomers',
      tags: ['customers'],
      summary: 'Customers matching every given filter, in a stable order, paged by an opaque cursor',
      querystring: listQuery,
      response: {
        200: z.object({ items: z.array(customerSchema), next_cursor: z.string().nullable() }).meta({ id: 'CustomerPage' }),
        400: problemSchema,
        401: problemSchema,
        403: problemSchema,
      },
    },
    onRequest: canRead,
    handler: async (request, reply) => {
      const { sort, limit, cursor, ...filters } = request.query;
      const decoded = cursor ? decodeCursor(cursor, listCursor) : undefined;
      if (decoded && decoded.s !== sort) throw validationError([{ path: 'cursor', message: 'belongs to another sort order' }]);
      if (decoded && !sortKeyFits(sort, decoded.k)) throw validationError([{ path: 'cursor', message: 'is not one this API returned' }]);
      const playbooks = await currentPlaybooks(deps);
      const rows = await listCustomers(deps.db, {
        filters, sort, limit: limit + 1, after: decoded && { key: decoded.k, id: decoded.id }, now: deps.clock.now(), playbooks,
        minorDigits: minorUnitDigits(deps.config.CURRENCY),
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      const nextCursor = rows.length > limit && last ? encodeCursor({ s: sort, k: last.sortKey, id: last.id }) : null;
      // The items are JSON text from Postgres (customerJson): sent as they are, not parsed and serialized again.
      return reply
        .type('application/json; charset=utf-8')
        .send(`{"items":[${page.map((r) => r.json).join(',')}],"next_cursor":${JSON.stringify(nextCursor)}}` as never);
    },
  });

  r.delete('/v1/customers/:id', {
    schema: {
      operationId: 'eraseCustomer',
      tags: ['customers'],
      summary: 'Erase a customer: its state, every stored event, its history and segment membership (right to erasure)',
      params: customerId,
      response: { 204: z.null(), 308: mergedRedirect, 401: problemSchema, 403: problemSchema, 404: problemSchema },
    },
    onRequest: requireScope(keys, 'admin'),
    handler: async (request, reply) => {
      // A merged id is the survivor's profile now: erasing it means erasing the survivor, every merged identity with it.
      const survivor = await survivorOf(deps.db, request.params.id);
      if (survivor) return redirectToSurvivor(reply, survivor);
      if (!(await eraseCustomer(deps.db, request.params.id))) throw notFound(`Customer "${request.params.id}"`);
      return reply.code(204).send(null);
    },
  });

  r.get('/v1/customers/:id', {
    schema: {
      operationId: 'getCustomer',
      tags: ['customers'],
      summary: 'A customer: traits, metrics, scores, tier, lifecycle stage and churn warning',
      params: customerId,
      response: { 200: customerSchema, 308: mergedRedirect, 401: problemSchema, 403: problemSchema, 404: problemSchema },
    },
    onRequest: canRead,
    handler: async (request, reply) => {
      const survivor = await survivorOf(deps.db, request.params.id);
      if (survivor) return redirectToSurvivor(reply, survivor);
      const customer = await findCustomer(deps.db, request.params.id, deps.clock.now(), minorUnitDigits(deps.config.CURRENCY), await currentPlaybooks(deps));
      if (!customer) throw notFound(`Customer "${request.params.id}"`);
      return customer;
    },
  });

  r.get('/v1/customers/:id/history', {
    schema: {
      operationId: 'getCustomerHistory',
      tags: ['customers'],
      summary: 'Every tier, lifecycle stage, at-risk and merge change of a customer, newest first; a merged id keeps its history from before the merge',
      params: customerId,
      querystring: z.object({
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        cursor: z.string().optional(),
      }),
      response: { 200: historyPageSchema, 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema },
    },
    onRequest: canRead,
    handler: async (request) => {
      const { limit, cursor } = request.query;
      const before = cursor ? decodeCursor(cursor, historyCursor) : undefined;
      const rows = await listHistory(deps.db, request.params.id, limit + 1, before && { changedAt: new Date(before.at), id: before.id });
      if (rows.length === 0 && !before && !(await findCustomer(deps.db, request.params.id, deps.clock.now(), minorUnitDigits(deps.config.CURRENCY)))) {
        throw notFound(`Customer "${request.params.id}"`);
      }
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        items: page.map((h) => ({
          kind: h.kind,
          before: h.before,
          after: h.after,
          reasons: h.reasons,
          changed_at: h.changedAt.toISOString(),
          recorded_at: h.recordedAt.toISOString(),
          sequence: h.sequence,
        })),
        next_cursor: rows.length > limit && last ? encodeCursor({ at: last.changedAt.toISOString(), id: last.id }) : null,
      };
    },
  });
}
