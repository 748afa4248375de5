import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps.ts';
import type { KeyStore } from '../services/api-keys.service.ts';
import { currentPolicy, savePolicy } from '../store/policies.repo.ts';
import { parsePolicyOrThrow } from '../services/preview.service.ts';
import { requireScope } from './auth.plugin.ts';
import { startJob, startRescore } from '../services/jobs.service.ts';
import { jobAcceptedSchema } from './jobs.routes.ts';
import { problemSchema } from './problem.ts';

const policyDocument = z
  .record(z.string(), z.unknown())
  .describe('A tier policy: `{ "preset": "rfm-value" | "pareto-abc" | "frequency" }` or `{ tiers, weights, downgrade_grace_days, lifecycle, at_risk }`; see README')
  .meta({ id: 'TierPolicyDocument' });

const storedPolicySchema = z
  .object({ version: z.number().int(), created_at: z.string(), policy: z.record(z.string(), z.unknown()) })
  .meta({ id: 'TierPolicy' });

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
      const stored = await savePolicy(deps.db, parsePolicyOrThrow(request.body), deps.clock.now());
      return reply.code(202).send({ version: stored.version, job_id: await startRescore(deps, `policy v${stored.version}`) });
    },
  });

  r.post('/v1/tier-policy/preview', {
    schema: {
      operationId: 'previewTierPolicy',
      tags: ['tier-policy'],
      summary: 'Start counting how many customers a candidate policy would move from each tier to each other tier (changes nothing)',
      description: 'Validates the candidate policy, then derives every customer under it in a background job. Poll GET /v1/jobs/{id}: a completed job\'s result is `{ customers, changed, moves: [{ from, to, customers }] }`, the moves largest first.',
      body: policyDocument,
      response: { 202: jobAcceptedSchema, ...errors },
    },
    onRequest: admin,
    handler: async (request, reply) => {
      parsePolicyOrThrow(request.body);
      return reply.code(202).send({ job_id: await startJob(deps, { kind: 'preview_policy', policy: request.body }) });
    },
  });
}
