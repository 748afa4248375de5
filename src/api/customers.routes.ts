import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../auth/api-keys.ts';
import { findCustomer } from '../store/customers.repo.ts';
import { listHistory } from '../store/history.repo.ts';
import { currentPolicy } from '../store/policies.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { notFound, problemSchema } from './problem.ts';
import { customerSchema, historyPageSchema } from './customers.schemas.ts';

const customerId = z.object({ id: z.string().min(1).max(128) });
const historyCursor = z.object({ at: z.iso.datetime(), id: z.number().int() });

export async function customerRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const canRead = requireScope(keys, 'customers:read');

  r.get('/v1/customers/:id', {
    schema: {
      operationId: 'getCustomer',
      tags: ['customers'],
      summary: 'A customer: traits, metrics, scores, tier, lifecycle stage and churn warning',
      params: customerId,
      response: { 200: customerSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema },
    },
    onRequest: canRead,
    handler: async (request) => {
      const [customer, { policy }] = await Promise.all([findCustomer(deps.db, request.params.id), currentPolicy(deps.db)]);
      if (!customer) throw notFound(`Customer "${request.params.id}"`);
      const tier = policy.tiers.find((t) => t.key === customer.tier);
      return { ...customer, playbook: tier?.playbook ?? null };
    },
  });

  r.get('/v1/customers/:id/history', {
    schema: {
      operationId: 'getCustomerHistory',
      tags: ['customers'],
      summary: 'Every tier, lifecycle stage and at-risk change of a customer, newest first',
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
      if (rows.length === 0 && !before && !(await findCustomer(deps.db, request.params.id))) {
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
