import { randomUUID } from 'node:crypto';
import type { Change, DerivedState } from '../domain/customer/customer-state.ts';
import { tierDirection, type TierPolicy } from '../domain/policy/policy.ts';

export const WEBHOOK_EVENT_TYPES = [
  'customer.tier_changed',
  'customer.lifecycle_changed',
  'customer.at_risk',
  'customer.at_risk_cleared',
  'customer.merged',
  'segment.entered',
  'segment.exited',
  'webhook.test',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export interface WebhookMessage {
  id: string;
  type: WebhookEventType;
  createdAt: Date;
  /** Serialized once; these exact bytes are signed and sent on every attempt. */
  body: string;
}

export const newMessageId = () => `evt_${randomUUID().replaceAll('-', '')}`;

export function buildMessage(type: WebhookEventType, data: Record<string, unknown>, now: Date): WebhookMessage {
  const id = newMessageId();
  return { id, type, createdAt: now, body: JSON.stringify({ id, type, created_at: now.toISOString(), data }) };
}

/** The customer snapshot every customer.* and segment.* event carries. */
function snapshot(customerId: string, state: DerivedState, sequence: number, segments: readonly string[]) {
  return {
    customer_id: customerId,
    sequence,
    segments,
    tier: state.tier,
    scores: state.scores,
    rfm_segment: state.rfm_segment,
    abc_class: state.abc_class,
    lifecycle_stage: state.lifecycle_stage,
    at_risk: {
      flagged: state.at_risk.flagged,
      since: state.at_risk.since?.toISOString() ?? null,
      reasons: state.at_risk.reasons.map((r) => ({ code: r.code, detail: r.detail, since: r.since.toISOString() })),
    },
    playbook: state.playbook,
  };
}

/** One webhook message per state change, built in the recompute transaction (the outbox). */
export function messagesForChanges(
  customerId: string,
  state: DerivedState,
  sequence: number,
  policy: TierPolicy,
  segments: readonly string[],
  now: Date,
): WebhookMessage[] {
  return state.changes.map((change: Change) => {
    const base = { ...snapshot(customerId, state, sequence, segments), changed_at: change.changed_at.toISOString(), reasons: change.reasons };
    switch (change.kind) {
      case 'tier':
        return buildMessage(
          'customer.tier_changed',
          {
            ...base,
            previous_tier: change.before,
            direction: tierDirection(change.before as string | null, change.after as string | null, policy.tiers.map((t) => t.key)),
          },
          now,
        );
      case 'lifecycle_stage':
        return buildMessage('customer.lifecycle_changed', { ...base, previous_lifecycle_stage: change.before }, now);
      case 'at_risk':
        return buildMessage(change.after === true ? 'customer.at_risk' : 'customer.at_risk_cleared', base, now);
    }
  });
}

/** `segment.entered` / `segment.exited`, one per membership change. */
export function segmentMessages(
  customerId: string,
  state: DerivedState,
  sequence: number,
  segments: readonly string[],
  change: { entered: readonly string[]; exited: readonly string[] },
  changedAt: Date,
  now: Date,
): WebhookMessage[] {
  const base = { ...snapshot(customerId, state, sequence, segments), changed_at: changedAt.toISOString() };
  return [
    ...change.entered.map((key) => buildMessage('segment.entered', { ...base, segment: key }, now)),
    ...change.exited.map((key) => buildMessage('segment.exited', { ...base, segment: key }, now)),
  ];
}
