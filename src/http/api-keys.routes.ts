import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { SCOPES, type KeyStore } from '../services/api-keys.service.ts';
import { requireScope } from './auth.plugin.ts';
import { problemSchema } from './problem.ts';
import { notFound } from '../services/errors.ts';

const createdKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    created_at: z.string(),
    key: z.string().describe('the secret; shown only in this response'),
  })
  .meta({ id: 'CreatedApiKey' });

export async function apiKeyRoutes(app: FastifyInstance, { keys }: { keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = requireScope(keys, 'admin');

  r.post('/v1/api-keys', {
    schema: {
      operationId: 'createApiKey',
      tags: ['api-keys'],
      summary: 'Create an API key (the secret is returned once)',
      body: z.strictObject({
        name: z.string().min(1).max(128),
        scopes: z.array(z.enum(SCOPES)).min(1),
      }),
      response: { 201: createdKeySchema, 400: problemSchema, 401: problemSchema, 403: problemSchema },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      const { row, secret } = await keys.create(request.body.name, [...new Set(request.body.scopes)]);
      return reply.code(201).send({
        id: row.id,
        name: row.name,
        scopes: request.body.scopes,
        created_at: row.createdAt.toISOString(),
        key: secret,
      });
    },
  });

  r.delete('/v1/api-keys/:id', {
    schema: {
      operationId: 'revokeApiKey',
      tags: ['api-keys'],
      summary: 'Revoke an API key',
      params: z.object({ id: z.string().min(1).max(64) }),
      response: { 204: z.null(), 401: problemSchema, 403: problemSchema, 404: problemSchema },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      if (!(await keys.revoke(request.params.id))) throw notFound(`API key "${request.params.id}"`);
      return reply.code(204).send(null);
    },
  });
}
