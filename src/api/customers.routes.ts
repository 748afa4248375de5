import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../auth/api-keys.ts';
import { findCustomer } from '../store/customers.repo.ts';
import { requireScope } from './auth.plugin.ts';
import { notFound, problemSchema } from './problem.ts';
import { customerSchema } from './customers.schemas.ts';

const customerId = z.object({ id: z.string().min(1).max(128) });

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
      const customer = await findCustomer(deps.db, request.params.id);
      if (!customer) throw notFound(`Customer "${request.params.id}"`);
      return customer;
    },
  });
}
