import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { parsePolicy } from '../domain/policy/policy.ts';
import { currentPolicy, savePolicy } from '../store/policies.repo.ts';
import { previewPolicy } from '../services/preview.service.ts';
import { requireScope } from './auth.plugin.ts';
import { startRescore } from './jobs.routes.ts';
import { problemSchema } from './problem.ts';
import { validationError } from '../services/errors.ts';

const policyDocument = z
  .record(z.string(), z.unknown())
  .describe('A tier policy: `{ "preset": "rfm-value" | "pareto-abc" | "frequency" }` or `{ tiers, weights, downgrade_grace_days, lifecycle, at_risk }`; see README')
  .meta({ id: 'TierPolicyDocument' });

const storedPolicySchema = z
  .object({ version: z.number().int(), created_at: z.string(), policy: z.record(z.string(), z.unknown()) })
  .meta({ id: 'TierPolicy' });

const previewSchema = z
  .object({
    customers: z.number().int(),
    changed: z.number().int(),
    moves: z.array(z.object({ from: z.string().nullable(), to: z.string().nullable(), customers: z.number().int() })),
  })
  .meta({ id: 'TierPolicyPreview' });

function parseOrThrow(body: unknown) {
  const parsed = parsePolicy(body);
  if (!parsed.ok) throw validationError(parsed.errors, 'The tier policy is invalid; see errors.');
  return parsed.policy;
}

export async function policyRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const admin = requireScope(keys, 'admin');
  const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema };

  r.get('/v1/tier-policy', {
    schema: { operationId: 'getTierPolicy', tags: ['tier-policy'], summary: 'The current tier policy', response: { 200: storedPolicySchema, ...errors } },
    onRequest: admin,
    handler: async () => {
      const stored = await currentPolicy(deps.db);
      return { version: stored.version, created_at: stored.createdAt.toISOString(), policy: stored.policy as unknown as Record<string, unknown> };
    },
  });

  r.put('/v1/tier-policy', {
    schema: {
      operationId: 'putTierPolicy',
      tags: ['tier-policy'],
      summary: 'Store a new policy version and rescore every customer',
      body: policyDocument,
      response: { 202: z.object({ version: z.number().int(), job_id: z.string() }), ...errors },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      const stored = await savePolicy(deps.db, parseOrThrow(request.body), deps.clock.now());
      return reply.code(202).send({ version: stored.version, job_id: await startRescore(deps, `policy v${stored.version}`) });
    },
  });

  r.post('/v1/tier-policy/preview', {
    schema: {
      operationId: 'previewTierPolicy',
      tags: ['tier-policy'],
      summary: 'How many customers a candidate policy would move from each tier to each other tier (changes nothing)',
      body: policyDocument,
      response: { 200: previewSchema, ...errors },
    },
    onRequest: admin,
    handler: async (request) => previewPolicy(deps, parseOrThrow(request.body)),
  });
}
