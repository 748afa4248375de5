import { randomBytes } from 'node:crypto';
import type { Deps } from '../deps.ts';
import { nudgeRelay } from '../queues/queues.ts';
import * as repo from '../store/webhooks.repo.ts';
import { buildMessage } from '../webhooks/messages.ts';
import { generateSecret } from '../webhooks/signing.ts';
import { validateWebhookUrl } from '../webhooks/ssrf.ts';
import { notFound, validationError } from './errors.ts';

const DAY_MS = 86_400_000;
/** Messages deleted per statement by the outbox purge. */
const PURGE_BATCH = 5_000;

/** The outbox's retention (README, Webhooks): messages fanned out more than WEBHOOK_RETENTION_DAYS ago go with their delivery log. */
export async function purgeOldMessages(deps: Pick<Deps, 'db' | 'config' | 'clock'>): Promise<{ messages: number }> {
  const before = new Date(deps.clock.now().getTime() - deps.config.WEBHOOK_RETENTION_DAYS * DAY_MS);
  // In batches, each its own short transaction: a backlog of months never becomes one long delete.
  let messages = 0;
  for (;;) {
    const purged = await repo.purgeFannedOutMessages(deps.db, before, PURGE_BATCH);
    messages += purged;
    if (purged < PURGE_BATCH) return { messages };
  }
}

/** After a rotation the old secret keeps signing alongside the new one for this long. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;
/** Failed deliveries can be resent from at most this far back. */
export const RECOVER_WINDOW_MS = 14 * 86_400_000;

type WebhookDeps = Pick<Deps, 'db' | 'queues' | 'config' | 'clock'>;

/** Endpoint ids: `we_` and 96 random bits. */
const newEndpointId = () => `we_${randomBytes(12).toString('base64url')}`;

/** The URL as it will be called, or a 400: only public http(s) targets unless WEBHOOK_ALLOW_PRIVATE_TARGETS. */
function checkUrl(deps: WebhookDeps, url: string): string {
  const checked = validateWebhookUrl(url, { allowPrivate: deps.config.WEBHOOK_ALLOW_PRIVATE_TARGETS });
  if (!checked.ok) throw validationError([{ path: 'url', message: checked.message }]);
  return checked.url.toString();
}

export async function findEndpointOr404(deps: Pick<Deps, 'db'>, id: string): Promise<repo.EndpointRow> {
  const endpoint = await repo.findEndpoint(deps.db, id);
  if (!endpoint) throw notFound(`Webhook endpoint "${id}"`);
  return endpoint;
}

/** Subscribes an endpoint; its signing secret is returned once, here. */
export async function createEndpoint(deps: WebhookDeps, input: { url: string; events: string[]; description?: string | undefined }) {
  const secret = generateSecret();
  const endpoint = await repo.insertEndpoint(deps.db, {
    id: newEndpointId(),
    url: checkUrl(deps, input.url),
    events: [...new Set(input.events)],
    description: input.description ?? null,
    secret,
  });
  return { endpoint, secret };
}

export async function updateEndpoint(
  deps: WebhookDeps,
  id: string,
  change: { url?: string | undefined; events?: string[] | undefined; enabled?: boolean | undefined; description?: string | null | undefined },
): Promise<repo.EndpointRow> {
  await findEndpointOr404(deps, id);
  const { url, events, enabled, description } = change;
  const updated = await repo.updateEndpoint(deps.db, id, {
    ...(url !== undefined ? { url: checkUrl(deps, url) } : {}),
    ...(events !== undefined ? { events: [...new Set(events)] } : {}),
    ...(description !== undefined ? { description } : {}),
    // Re-enabling starts the endpoint's health afresh.
    ...(enabled !== undefined ? { enabled, disabledReason: enabled ? null : 'disabled by request', failingSince: null } : {}),
    updatedAt: deps.clock.now(),
  });
  return updated!;
}

export async function deleteEndpoint(deps: Pick<Deps, 'db'>, id: string): Promise<void> {
  if (!(await repo.deleteEndpoint(deps.db, id))) throw notFound(`Webhook endpoint "${id}"`);
}

/** A new signing secret; the previous one keeps signing alongside it for ROTATION_OVERLAP_MS. */
export async function rotateSecret(deps: WebhookDeps, id: string): Promise<{ secret: string; previousExpiresAt: Date }> {
  const endpoint = await findEndpointOr404(deps, id);
  const now = deps.clock.now();
  const previousExpiresAt = new Date(now.getTime() + ROTATION_OVERLAP_MS);
  const secret = generateSecret();
  await repo.updateEndpoint(deps.db, endpoint.id, { secret, previousSecret: endpoint.secret, previousSecretExpiresAt: previousExpiresAt, updatedAt: now });
  return { secret, previousExpiresAt };
}

/** Queues a `webhook.test` message for this endpoint only. */
export async function sendTestMessage(deps: WebhookDeps, id: string): Promise<{ messageId: string; deliveryId: string }> {
  const endpoint = await findEndpointOr404(deps, id);
  const message = buildMessage('webhook.test', { endpoint_id: endpoint.id, note: 'A test event from Tierwise.' }, deps.clock.now());
  const deliveryId = await repo.insertDirectMessage(deps.db, endpoint.id, message);
  await nudgeRelay(deps.queues.relay);
  return { messageId: message.id, deliveryId };
}

export async function retryDelivery(deps: WebhookDeps, endpointId: string, deliveryId: string): Promise<void> {
  if (!(await repo.retryDelivery(deps.db, endpointId, deliveryId, deps.clock.now()))) {
    throw notFound(`Delivery "${deliveryId}" of endpoint "${endpointId}"`);
  }
  await nudgeRelay(deps.queues.relay);
}

/** Resends every failed delivery of the endpoint since `since`, at most RECOVER_WINDOW_MS back; returns how many. */
export async function recoverFailed(deps: WebhookDeps, id: string, since: Date): Promise<number> {
  await findEndpointOr404(deps, id);
  const now = deps.clock.now();
  if (now.getTime() - since.getTime() > RECOVER_WINDOW_MS) {
    throw validationError([{ path: 'since', message: 'must be within the last 14 days' }], 'Recovery reaches back at most 14 days.');
  }
  const recovered = await repo.recoverFailed(deps.db, id, since, now);
  if (recovered > 0) await nudgeRelay(deps.queues.relay);
  return recovered;
}
