import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Deps } from '../deps.ts';
import { createKeyStore } from '../services/api-keys.service.ts';
import { registerOpenApi } from './openapi.plugin.ts';
import { registerBodyBudget } from './body-budget.plugin.ts';
import { createRateLimitStore } from './rate-limit.plugin.ts';
import { registerProblemHandlers, sendProblem } from './problem.ts';
import { AppError } from '../services/errors.ts';
import { healthRoutes } from './health.routes.ts';
import { eventRoutes } from './events.routes.ts';
import { customerRoutes } from './customers.routes.ts';
import { apiKeyRoutes } from './api-keys.routes.ts';
import { jobRoutes } from './jobs.routes.ts';
import { policyRoutes } from './policy.routes.ts';
import { webhookRoutes } from './webhooks.routes.ts';
import { reportRoutes } from './reports.routes.ts';
import { segmentRoutes } from './segments.routes.ts';
import { modelRoutes } from './model.routes.ts';
import { dashboardRoutes } from './dashboard.routes.ts';
import { segmentCompatRoutes } from './compat/segment.routes.ts';

export const BODY_LIMIT_BYTES = 1024 * 1024;

/** Builds the HTTP app (no listen): external plugins, then our own, then routes. */
export async function buildApp(deps: Deps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    // Requests Fastify cannot route (a malformed URL) get problem+json like every other 4xx.
    frameworkErrors: (error, _request, reply) => sendProblem(reply, 400, 'bad_request', error.message),
  });
  // JSON only: any other content type is a 415, not a string body that fails validation.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerProblemHandlers(app);
  registerBodyBudget(app, deps.config.MAX_BODY_BYTES_IN_FLIGHT);
  await registerOpenApi(app);

  const keys = createKeyStore(deps.db, deps.config.TIERWISE_ADMIN_KEY);
  await app.register(healthRoutes, { deps });
  await app.register(dashboardRoutes);
  // Per key (authentication runs first, in onRequest); counted in this process and shared across
  // replicas through Redis every RATE_LIMIT_SYNC_MS (src/http/rate-limit.plugin.ts), and one budget per key
  // across /v1 and /compat.
  const limits = createRateLimitStore(deps.redis, {
    nameSpace: `${deps.config.QUEUE_PREFIX}:ratelimit:`,
    syncMs: deps.config.RATE_LIMIT_SYNC_MS,
    logger: deps.logger,
  });
  app.addHook('onClose', async () => limits.close());
  const limitPerKey = {
    hook: 'preHandler' as const,
    max: deps.config.RATE_LIMIT_MAX,
    timeWindow: deps.config.RATE_LIMIT_WINDOW_MS,
    store: limits.Store,
    keyGenerator: (request: FastifyRequest) => request.principal?.keyId ?? request.ip,
    errorResponseBuilder: (_request: FastifyRequest, context: { max: number; after: string }) =>
      new AppError(429, 'rate_limited', `Rate limit of ${context.max} requests per ${context.after} exceeded for this API key.`),
  };
  await app.register(async (v1) => {
    await v1.register(rateLimit, limitPerKey);
    await v1.register(eventRoutes, { deps, keys });
    await v1.register(customerRoutes, { deps, keys });
    await v1.register(apiKeyRoutes, { keys });
    await v1.register(policyRoutes, { deps, keys });
    await v1.register(jobRoutes, { deps, keys });
    await v1.register(webhookRoutes, { deps, keys });
    await v1.register(reportRoutes, { deps, keys });
    await v1.register(segmentRoutes, { deps, keys });
    await v1.register(modelRoutes, { deps, keys });
  });
  await app.register(
    async (compat) => {
      await compat.register(rateLimit, limitPerKey);
      await compat.register(segmentCompatRoutes, { deps, keys });
    },
    { prefix: '/compat/segment' },
  );
  return app;
}
