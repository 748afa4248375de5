import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Deps } from '../deps.ts';
import { createKeyStore } from '../services/api-keys.service.ts';
import { registerOpenApi } from './openapi.plugin.ts';
import { registerBodyBudget } from './body-budget.plugin.ts';
import { createRateLimitStore } from './rate-limit.plugin.ts';
import { clientErrorHandler, frameworkErrors, registerProblemHandlers } from './problem.ts';
import { AppError, validationError } from '../services/errors.ts';
import { unstorableStrings } from '../domain/text.ts';
import { formatPath } from '../domain/events/field-problem.ts';
import { healthRoutes } from './health.routes.ts';
import { eventRoutes } from './events.routes.ts';
import { deadLetterRoutes } from './dead-letters.routes.ts';
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

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is at most 128 characters of A-Z a-z 0-9 . _ : -, else a new UUID. */
export function requestIdOf(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

function refuseUnstorable(found: ReturnType<typeof unstorableStrings>): void {
  if (found.length === 0) return;
  const errors = found.map((f) => ({ path: formatPath(f.path), message: f.message }));
  throw validationError(errors, 'The request holds text that cannot be stored; see errors.');
}

/** Builds the HTTP app (no listen): external plugins, then our own, then routes. */
export async function buildApp(deps: Deps): Promise<FastifyInstance> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Slow clients are dropped: headers must arrive within HTTP_HEADERS_TIMEOUT_MS and the whole
    // request within HTTP_REQUEST_TIMEOUT_MS (Node checks both every connectionsCheckingInterval),
    // a socket with nothing moving is closed after HTTP_IDLE_TIMEOUT_MS.
    connectionTimeout: config.HTTP_IDLE_TIMEOUT_MS,
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    http: {
      headersTimeout: config.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(config.HTTP_HEADERS_TIMEOUT_MS / 2))),
    },
    // A caller's x-request-id is kept only when it is a short safe token (it is echoed and logged).
    requestIdHeader: false,
    // Path parameters are bounded by their schemas (ids ≤ 128 characters), which name the field;
    // only a path segment past this is a 414.
    routerOptions: { maxParamLength: 1024 },
    frameworkErrors,
    clientErrorHandler,
    genReqId: (req) => requestIdOf(req.headers['x-request-id']),
  });
  // JSON only: any other content type is a 415, not a string body that fails validation.
  app.removeContentTypeParser('text/plain');
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerProblemHandlers(app);
  // Text Postgres cannot store (NUL, lone surrogates) in any path or query value is a 400 before
  // authentication or a route sees it; /v1 bodies are checked the same way below.
  app.addHook('onRequest', async (request) => {
    refuseUnstorable([
      ...unstorableStrings(request.params ?? {}, ['params']),
      ...unstorableStrings(request.query ?? {}, ['querystring']),
    ]);
  });
  registerBodyBudget(app, { keyed: config.MAX_BODY_BYTES_IN_FLIGHT, keyless: config.MAX_KEYLESS_BODY_BYTES_IN_FLIGHT });
  await registerOpenApi(app);

  // Revocations reach every replica through Redis pub/sub (a connection of its own, as a
  // subscribing connection can do nothing else).
  const revocationSubscriber = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: null });
  revocationSubscriber.on('error', (err) => deps.logger.warn({ err: err.message }, 'redis revocation subscriber error'));
  app.addHook('onClose', async () => {
    // quit() would wait for a connection that may never come (Redis unreachable).
    if (revocationSubscriber.status === 'ready') await revocationSubscriber.quit().catch(() => revocationSubscriber.disconnect());
    else revocationSubscriber.disconnect();
  });
  const keys = createKeyStore(deps.db, config.TIERWISE_ADMIN_KEY, {
    revocations: { publisher: deps.redis, subscriber: revocationSubscriber, channel: `${config.QUEUE_PREFIX}:api-keys:revoked` },
  });
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
    v1.addHook('preValidation', async (request) => refuseUnstorable(unstorableStrings(request.body)));
    await v1.register(rateLimit, limitPerKey);
    await v1.register(eventRoutes, { deps, keys });
    await v1.register(deadLetterRoutes, { deps, keys });
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
