import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import { pingDatabase, readMigrationState } from '../store/migrations.ts';
import { hashKey } from '../services/api-keys.service.ts';
import { AppError } from '../services/errors.ts';

const readySchema = z.object({
  status: z.enum(['ready', 'unready']),
  checks: z.object({ postgres: z.string(), redis: z.string(), migrations: z.string() }),
});

export async function healthRoutes(app: FastifyInstance, { deps }: { deps: Deps }) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/healthz', {
    schema: { operationId: 'health', tags: ['operations'], summary: 'The process is alive', security: [], response: { 200: z.object({ status: z.literal('ok') }) } },
    handler: async () => ({ status: 'ok' as const }),
  });

  r.get('/readyz', {
    schema: {
      operationId: 'ready',
      tags: ['operations'],
      summary: 'Postgres and Redis answer and migrations are applied',
      security: [],
      response: { 200: readySchema, 503: readySchema },
    },
    handler: async (_request, reply) => {
      const [postgres, redis, migrations] = await Promise.all([
        pingDatabase(deps.db).then(() => 'ok', (e: Error) => `error: ${e.message}`),
        deps.redis.ping().then(() => 'ok', (e: Error) => `error: ${e.message}`),
        readMigrationState(deps.db).then(
          (s) => (s.pending === 0 ? 'ok' : `${s.pending} pending`),
          () => 'unknown',
        ),
      ]);
      const ok = postgres === 'ok' && redis === 'ok' && migrations === 'ok';
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'unready', checks: { postgres, redis, migrations } });
    },
  });

  const token = deps.config.METRICS_TOKEN ? Buffer.from(hashKey(deps.config.METRICS_TOKEN), 'hex') : undefined;
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (token) {
      const sent = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      // Compared as hashes, so the comparison takes the same time whatever was sent.
      if (!sent || !timingSafeEqual(token, Buffer.from(hashKey(sent), 'hex'))) {
        throw new AppError(401, 'unauthorized', 'Send the metrics token as "Authorization: Bearer <METRICS_TOKEN>".', undefined, { 'www-authenticate': 'Bearer' });
      }
    }
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
}
