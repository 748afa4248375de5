import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import * as repo from '../store/webhooks.repo.ts';
import { WEBHOOK_EVENT_TYPES } from '../webhooks/messages.ts';
import * as webhooks from '../services/webhooks.service.ts';
import { requireScope } from './auth.plugin.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { problemSchema } from './problem.ts';

const eventFilter = z
  .array(z.enum([...WEBHOOK_EVENT_TYPES.filter((t) => t !== 'webhook.test'), '*']))
  .min(1)
  .describe('event types to receive; "*" for all');

const endpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    disabled_reason: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'WebhookEndpoint' });

const attemptSchema = z.object({
  attempt: z.number().int(),
  outcome: z.string(),
  status_code: z.number().int().nullable(),
  duration_ms: z.number().int(),
  response_body: z.string().nullable().describe('first 4 KB of the response'),
  error: z.string().nullable(),
  at: z.string(),
});

const deliverySchema = z
  .object({
    id: z.string(),
    message_id: z.string().describe('the webhook-id header, stable across attempts'),
    event_type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.array(attemptSchema),
    next_attempt_at: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'WebhookDelivery' });

const idParams = z.object({ id: z.string().min(1).max(64) });
const deliveryCursor = z.object({ at: z.iso.datetime(), id: z.string() });

function present(e: repo.EndpointRow) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    enabled: e.enabled,
    disabled_reason: e.disabledReason,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

export async function webhookRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = requireScope(keys, 'admin');
  const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };

  r.post('/v1/webhooks', {
    schema: {
      operationId: 'createWebhook', tags: ['webhooks'], summary: 'Subscribe an endpoint (the signing secret is returned once)',
      body: z.strictObject({ url: z.string().max(2048), events: eventFilter, description: z.string().max(500).optional() }),
      response: { 201: endpointSchema.extend({ secret: z.string() }), ...errors },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      const { endpoint, secret } = await webhooks.createEndpoint(deps, request.body);
      return reply.code(201).send({ ...present(endpoint), secret });
    },
  });

  r.get('/v1/webhooks', {
    schema: { operationId: 'listWebhooks', tags: ['webhooks'], summary: 'All endpoints', response: { 200: z.object({ items: z.array(endpointSchema) }), ...errors } },
    onRequest: admin,
    handler: async () => ({ items: (await repo.listEndpoints(deps.db)).map(present) }),
  });

  r.get('/v1/webhooks/:id', {
    schema: { operationId: 'getWebhook', tags: ['webhooks'], summary: 'One endpoint', params: idParams, response: { 200: endpointSchema, ...errors } },
    onRequest: admin,
    handler: async (request) => present(await webhooks.findEndpointOr404(deps, request.params.id)),
  });

  r.patch('/v1/webhooks/:id', {
    schema: {
      operationId: 'updateWebhook', tags: ['webhooks'], summary: 'Change the URL, the event filter, or enable/disable',
      params: idParams,
      body: z.strictObject({ url: z.string().max(2048).optional(), events: eventFilter.optional(), enabled: z.boolean().optional(), description: z.string().max(500).nullable().optional() }),
      response: { 200: endpointSchema, ...errors },
    },
    onRequest: admin,
    handler: async (request) => {
      const updated = await webhooks.updateEndpoint(deps, request.params.id, request.body);
      return present(updated);
    },
  });

  r.delete('/v1/webhooks/:id', {
    schema: { operationId: 'deleteWebhook', tags: ['webhooks'], summary: 'Delete an endpoint and its delivery log', params: idParams, response: { 204: z.null(), ...errors } },
    onRequest: admin,
    handler: async (request, reply) => {
      await webhooks.deleteEndpoint(deps, request.params.id);
      return reply.code(204).send(null);
    },
  });

  r.post('/v1/webhooks/:id/rotate-secret', {
    schema: {
      operationId: 'rotateWebhookSecret', tags: ['webhooks'], summary: 'New signing secret; the old one keeps signing alongside for 24 h',
      params: idParams,
      response: { 200: z.object({ secret: z.string(), previous_secret_expires_at: z.string() }), ...errors },
    },
    onRequest: admin,
    handler: async (request) => {
      const { secret, previousExpiresAt } = await webhooks.rotateSecret(deps, request.params.id);
      return { secret, previous_secret_expires_at: previousExpiresAt.toISOString() };
    },
  });

  r.post('/v1/webhooks/:id/test', {
    schema: {
      operationId: 'testWebhook', tags: ['webhooks'], summary: 'Send a webhook.test event to this endpoint',
      params: idParams,
      response: { 202: z.object({ message_id: z.string(), delivery_id: z.string() }), ...errors },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      const { messageId, deliveryId } = await webhooks.sendTestMessage(deps, request.params.id);
      return reply.code(202).send({ message_id: messageId, delivery_id: deliveryId });
    },
  });

  r.get('/v1/webhooks/:id/deliveries', {
    schema: {
      operationId: 'listWebhookDeliveries', tags: ['webhooks'], summary: 'Deliveries with every attempt, newest first',
      params: idParams,
      querystring: z.object({
        status: z.enum(['pending', 'succeeded', 'failed']).optional(),
        limit: z.coerce.number().int().min(1).max(200).default(50),
        cursor: z.string().optional(),
      }),
      response: { 200: z.object({ items: z.array(deliverySchema), next_cursor: z.string().nullable() }), ...errors },
    },
    onRequest: admin,
    handler: async (request) => {
      await webhooks.findEndpointOr404(deps, request.params.id);
      const { status, limit, cursor } = request.query;
      const before = cursor ? decodeCursor(cursor, deliveryCursor) : undefined;
      const rows = await repo.listDeliveries(deps.db, request.params.id, {
        status,
        limit: limit + 1,
        before: before && { createdAt: new Date(before.at), id: before.id },
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1)?.delivery;
      return {
        items: page.map(({ delivery: d, type, attempts }) => ({
          id: d.id,
          message_id: d.messageId,
          event_type: type,
          status: d.status,
          attempts: attempts.map((a) => ({
            attempt: a.attempt, outcome: a.outcome, status_code: a.statusCode, duration_ms: a.durationMs,
            response_body: a.responseBody, error: a.error, at: a.createdAt.toISOString(),
          })),
          next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
          created_at: d.createdAt.toISOString(),
        })),
        next_cursor: rows.length > limit && last ? encodeCursor({ at: last.createdAt.toISOString(), id: last.id }) : null,
      };
    },
  });

  r.post('/v1/webhooks/:id/deliveries/:delivery_id/retry', {
    schema: {
      operationId: 'retryWebhookDelivery', tags: ['webhooks'], summary: 'Attempt one delivery again now',
      params: idParams.extend({ delivery_id: z.string().min(1).max(128) }),
      response: { 202: z.object({ delivery_id: z.string() }), ...errors },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      await webhooks.retryDelivery(deps, request.params.id, request.params.delivery_id);
      return reply.code(202).send({ delivery_id: request.params.delivery_id });
    },
  });

  r.post('/v1/webhooks/:id/recover', {
    schema: {
      operationId: 'recoverWebhook', tags: ['webhooks'], summary: 'Resend every failed delivery since an instant (at most 14 days ago)',
      params: idParams,
      body: z.strictObject({ since: z.iso.datetime({ offset: true }) }),
      response: { 202: z.object({ recovered: z.number().int() }), ...errors },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      const recovered = await webhooks.recoverFailed(deps, request.params.id, new Date(request.body.since));
      return reply.code(202).send({ recovered });
    },
  });
}
