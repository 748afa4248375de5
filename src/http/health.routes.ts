import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import { pingDatabase, readMigrationState } from '../store/migrations.ts';
import { hashKey } from '../services/api-keys.service.ts';
import { AppError } from '../services/errors.ts';
import { problemSchema } from './problem.ts';

// The only client error these can give: a URL Fastify cannot read.
const badUrl = problemSchema.describe('the URL cannot be read (e.g. malformed percent-encoding)');

const dependency = z.enum(['postgres', 'redis', 'migrations']);
const readySchema = z.object({
  status: z.enum(['ready', 'unready']),
  checks: z.object({
    postgres: z.enum(['ok', 'failed']),
    redis: z.enum(['ok', 'failed']),
    migrations: z.string().describe('`ok`, `N pending`, or `unknown` when Postgres cannot be read'),
  }),
  failed: z.array(dependency).describe('The dependencies that are not ready; the error itself is only logged'),
});

export async function healthRoutes(app: FastifyInstance, { deps }: { deps: Deps }) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get('/healthz', {
    schema: { operationId: 'health', tags: ['operations'], summary: 'The process is alive', security: [], response: { 200: z.object({ status: z.literal('ok') }), 400: badUrl } },
    handler: async () => ({ status: 'ok' as const }),
  });

  r.get('/readyz', {
    schema: {
      operationId: 'ready',
      tags: ['operations'],
      summary: 'Postgres and Redis answer and migrations are applied',
      security: [],
      response: { 200: readySchema, 400: badUrl, 503: readySchema },
    },
    handler: async (request, reply) => {
      // The answer names what failed; the error text (hosts, users, database names) goes to the log only.
      const check = (name: 'postgres' | 'redis', probe: Promise<unknown>) =>
        probe.then(
          () => 'ok' as const,
          (err: unknown) => {
            request.log.warn({ err, dependency: name }, 'readiness check failed');
            return 'failed' as const;
          },
        );
      const [postgres, redis, migrations] = await Promise.all([
        check('postgres', pingDatabase(deps.db)),
        check('redis', deps.redis.ping()),
        readMigrationState(deps.db).then(
          (s) => (s.pending === 0 ? 'ok' : `${s.pending} pending`),
          () => 'unknown',
        ),
      ]);
      const checks = { postgres, redis, migrations };
      const failed = dependency.options.filter((name) => checks[name] !== 'ok');
      return reply.code(failed.length === 0 ? 200 : 503).send({ status: failed.length === 0 ? 'ready' : 'unready', checks, failed });
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
