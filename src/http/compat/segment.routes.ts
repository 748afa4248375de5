import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps.ts';
import type { KeyStore } from '../../services/api-keys.service.ts';
import { createIngestEnqueuer } from '../../services/ingest.service.ts';
import { problemSchema } from '../problem.ts';
import { segmentAuth } from './segment.auth.ts';
import { registerSegmentBody } from './segment.body.ts';
import { prepareMessages } from './segment.prepare.ts';
import {
  batchBodySchema, MAX_BATCH_BYTES, MAX_MESSAGE_BYTES, singleBodySchema, successSchema, type MessageType,
} from './segment.schemas.ts';

const responses = {
  200: successSchema, 400: problemSchema, 401: problemSchema, 403: problemSchema, 413: problemSchema,
  415: problemSchema, 429: problemSchema, 503: problemSchema,
};
const security: { [scheme: string]: string[] }[] = [{ basic: [] }, { bearer: [] }];
const SINGLE: { type: MessageType; operationId: string }[] = [
  { type: 'track', operationId: 'segmentTrack' },
  { type: 'identify', operationId: 'segmentIdentify' },
  { type: 'page', operationId: 'segmentPage' },
  { type: 'screen', operationId: 'segmentScreen' },
  { type: 'group', operationId: 'segmentGroup' },
  { type: 'alias', operationId: 'segmentAlias' },
];

/**
 * The Segment HTTP Tracking API (also what RudderStack's data plane accepts), mounted under
 * /compat/segment: Segment and RudderStack SDKs, or their webhook destinations, point here.
 */
export async function segmentCompatRoutes(app: FastifyInstance, { deps, keys }: { deps: Deps; keys: KeyStore }) {
  registerSegmentBody(app);
  const r = app.withTypeProvider<ZodTypeProvider>();
  const auth = segmentAuth(keys);
  const enqueueIngest = createIngestEnqueuer(deps);

  /** 200 only once the job is in Redis; skipped messages are counted, never a reason to refuse. */
  async function ingest(request: FastifyRequest, messages: unknown[], batch: { sentAt?: unknown; context?: Record<string, unknown> }, pathType?: MessageType) {
    const receivedAt = deps.clock.now();
    const sentAt = typeof batch.sentAt === 'string' ? batch.sentAt : undefined;
    const prepared = prepareMessages(messages, { receivedAt, sentAt, context: batch.context, currency: deps.config.CURRENCY }, pathType);
    if (prepared.events.length > 0) {
      await enqueueIngest(prepared.events, { receivedAt, currency: deps.config.CURRENCY, pathPrefix: '' });
    }
    for (const outcome of prepared.outcomes) {
      deps.metrics.segmentReceived.inc({ type: outcome.type });
      if (outcome.skipped) deps.metrics.segmentSkipped.inc({ type: outcome.type, reason: outcome.skipped });
    }
    const skipped = prepared.outcomes.filter((o) => o.skipped === 'malformed');
    if (skipped.length > 0) {
      const sample = skipped.slice(0, 10).map(({ type, detail }) => ({ type, detail }));
      request.log.info({ skipped: sample, count: skipped.length }, 'segment messages skipped as malformed');
    }
    // A message the mapper could not handle is a bug on our side: warn with the stack.
    for (const { type, error } of prepared.outcomes.filter((o) => o.error !== undefined).slice(0, 10)) {
      request.log.warn({ err: error, type }, 'segment message could not be mapped');
    }
    return { success: true as const };
  }

  r.post('/v1/batch', {
    schema: {
      operationId: 'segmentBatch',
      tags: ['segment'],
      summary: 'Segment/RudderStack batch (≤ 500 KB, ≤ 32 KB per message; gzip accepted)',
      description:
        'Each message is mapped to a Tierwise event and validated like POST /v1/events/batch; a message that does not ' +
        'fit is skipped and counted, the rest are queued (anonymous-only ones under anon:<anonymousId>). 200 once queued.',
      security,
      body: batchBodySchema,
      response: responses,
    },
    bodyLimit: MAX_BATCH_BYTES,
    onRequest: auth.onRequest,
    preValidation: auth.preValidation,
    handler: async (request) => ingest(request, request.body.batch, request.body),
  });

  for (const { type, operationId } of SINGLE) {
    r.post(`/v1/${type}`, {
      schema: {
        operationId,
        tags: ['segment'],
        summary: `Segment/RudderStack ${type} call (≤ 32 KB; gzip accepted)`,
        security,
        body: singleBodySchema,
        response: responses,
      },
      bodyLimit: MAX_MESSAGE_BYTES,
      onRequest: auth.onRequest,
      preValidation: auth.preValidation,
      handler: async (request) => ingest(request, [request.body], {}, type),
    });
  }
}
