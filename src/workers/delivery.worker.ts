import { eq, sql } from 'drizzle-orm';
import type { Job } from 'bullmq';
import type { Dispatcher } from 'undici';
import type { Deps } from '../deps.ts';
import { nudgeRelay, type JobPayloads } from '../queues/queues.ts';
import { webhookAttempts, webhookDeliveries, webhookEndpoints, webhookMessages } from '../store/schema.ts';
import { deliverOnce, type AttemptResult } from '../webhooks/deliver.ts';
import { nextAttemptDelay, shouldDisableEndpoint } from '../webhooks/schedule.ts';
import { webhookHeaders } from '../webhooks/signing.ts';

/**
 * One attempt of one delivery, then its bookkeeping in one transaction. A worker killed between
 * the two leaves the job stalled; BullMQ runs it again, and the receiver sees the same
 * `webhook-id` twice (at-least-once), never a lost event.
 */
export async function processDelivery(deps: Deps, dispatcher: Dispatcher, job: Job<JobPayloads['webhooks']>) {
  const [row] = await deps.db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints, message: webhookMessages })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .innerJoin(webhookMessages, eq(webhookMessages.id, webhookDeliveries.messageId))
    .where(eq(webhookDeliveries.id, job.data.deliveryId));
  if (!row || row.delivery.status !== 'pending' || !row.endpoint.enabled) return { skipped: true };
  const { delivery, endpoint, message } = row;

  const now = deps.clock.now();
  const secrets = [endpoint.secret];
  if (endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now) {
    secrets.push(endpoint.previousSecret);
  }
  const headers = webhookHeaders({ msgId: message.id, timestamp: Math.floor(now.getTime() / 1000), body: message.body, secrets });
  const result = await deliverOnce({
    url: endpoint.url,
    body: message.body,
    headers,
    dispatcher,
    timeoutMs: deps.config.WEBHOOK_TIMEOUT_MS,
    now: () => Date.now(),
  });
  await recordAttempt(deps, delivery.id, delivery.attempts + 1, endpoint.id, result);
  // A finished attempt frees one of the endpoint's in-flight slots: let the relay refill it now
  // rather than at its next scheduled pass (relay jobs are deduplicated, so this stays cheap).
  await nudgeRelay(deps.queues.relay);
  return { outcome: result.outcome, status: result.status };
}

async function recordAttempt(deps: Deps, deliveryId: string, attempt: number, endpointId: string, result: AttemptResult) {
  const now = deps.clock.now();
  const delay = result.outcome === 'failure' ? nextAttemptDelay(attempt, Math.random, result.retryAfterMs) : null;
  const status = result.outcome === 'success' ? 'succeeded' : delay === null ? 'failed' : 'pending';
  await deps.db.transaction(async (tx) => {
    await tx.insert(webhookAttempts).values({
      deliveryId,
      attempt,
      outcome: result.outcome,
      statusCode: result.status,
      durationMs: Math.round(result.durationMs),
      responseBody: result.responseBody,
      error: result.error,
      createdAt: now,
    });
    await tx
      .update(webhookDeliveries)
      .set({
        status,
        attempts: attempt,
        lastAttemptAt: now,
        claimedUntil: null,
        nextAttemptAt: delay === null ? null : new Date(now.getTime() + delay),
      })
      .where(eq(webhookDeliveries.id, deliveryId));
    if (result.outcome === 'success') {
      await tx.update(webhookEndpoints).set({ lastSuccessAt: now, failingSince: null }).where(eq(webhookEndpoints.id, endpointId));
    } else if (result.outcome === 'gone') {
      await tx
        .update(webhookEndpoints)
        .set({ enabled: false, disabledReason: 'the receiver answered 410 Gone', updatedAt: now })
        .where(eq(webhookEndpoints.id, endpointId));
    } else {
      const [endpoint] = await tx
        .update(webhookEndpoints)
        .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${now})` })
        .where(eq(webhookEndpoints.id, endpointId))
        .returning();
      if (endpoint && shouldDisableEndpoint({ firstFailureAt: endpoint.failingSince, lastSuccessAt: endpoint.lastSuccessAt, now })) {
        await tx
          .update(webhookEndpoints)
          .set({ enabled: false, disabledReason: 'only failures for 5 days', updatedAt: now })
          .where(eq(webhookEndpoints.id, endpointId));
      }
    }
  });
  deps.metrics.webhookAttempts.inc({ outcome: result.outcome });
}
