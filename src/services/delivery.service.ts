import type { Deps } from '../deps.ts';
import { nudgeRelay } from '../queues/queues.ts';
import { findDelivery, recordAttempt } from '../store/webhooks.delivery.repo.ts';
import { deliverOnce } from '../webhooks/deliver.ts';
import { nextAttemptDelay, shouldDisableEndpoint } from '../webhooks/schedule.ts';
import { webhookHeaders } from '../webhooks/signing.ts';
import { createGuardedDispatcher } from '../webhooks/ssrf.ts';

export interface Deliverer {
  /** One attempt of one delivery, then its bookkeeping. */
  deliver(deliveryId: string): Promise<{ skipped: true } | { outcome: string; status: number | null }>;
  close(): Promise<void>;
}

/**
 * Webhook delivery attempts through one SSRF-guarded HTTP dispatcher. An attempt and its
 * bookkeeping are two steps: a worker killed between them leaves the job stalled; BullMQ runs it
 * again, and the receiver sees the same `webhook-id` twice (at-least-once), never a lost event.
 */
export function createDeliverer(deps: Pick<Deps, 'db' | 'queues' | 'config' | 'clock' | 'metrics'>): Deliverer {
  const dispatcher = createGuardedDispatcher({ allowPrivate: deps.config.WEBHOOK_ALLOW_PRIVATE_TARGETS });
  return {
    async deliver(deliveryId) {
      const row = await findDelivery(deps.db, deliveryId);
      if (!row || row.delivery.status !== 'pending' || !row.endpoint.enabled) return { skipped: true };
      const { delivery, endpoint, message } = row;
      const now = deps.clock.now();
      // While a rotated-out secret overlaps the new one, receivers may verify with either.
      const secrets = [endpoint.secret];
      if (endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > now) secrets.push(endpoint.previousSecret);
      const headers = webhookHeaders({ msgId: message.id, timestamp: Math.floor(now.getTime() / 1000), body: message.body, secrets });
      const result = await deliverOnce({ url: endpoint.url, body: message.body, headers, dispatcher, timeoutMs: deps.config.WEBHOOK_TIMEOUT_MS, now: () => Date.now() });

      const at = deps.clock.now();
      const attempt = delivery.attempts + 1;
      const delay = result.outcome === 'failure' ? nextAttemptDelay(attempt, Math.random, result.retryAfterMs) : null;
      await recordAttempt(
        deps.db,
        {
          deliveryId: delivery.id,
          endpointId: endpoint.id,
          attempt,
          outcome: result.outcome,
          statusCode: result.status,
          durationMs: Math.round(result.durationMs),
          responseBody: result.responseBody,
          error: result.error,
          status: result.outcome === 'success' ? 'succeeded' : delay === null ? 'failed' : 'pending',
          nextAttemptAt: delay === null ? null : new Date(at.getTime() + delay),
        },
        at,
        (health) => shouldDisableEndpoint({ ...health, now: at }),
      );
      deps.metrics.webhookAttempts.inc({ outcome: result.outcome });
      // A finished attempt frees one of the endpoint's in-flight slots: let the relay refill it now
      // rather than at its next scheduled pass (relay jobs are deduplicated, so this stays cheap).
      await nudgeRelay(deps.queues.relay);
      return { outcome: result.outcome, status: result.status };
    },
    close: () => dispatcher.close(),
  };
}
