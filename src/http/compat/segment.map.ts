import { createHash } from 'node:crypto';
import { INTERACTION_KINDS } from '../../domain/events/events.schemas.ts';
import { anonymousId as anonymousProfile } from '../../domain/identity/identity.ts';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../domain/text.ts';
import { currencyOf, discountOf, itemsOf, keepFittingOrder, orderAmountOf, orderChannelOf, refundAmountOf } from './segment.commerce.ts';
import { MAX_MESSAGE_BYTES, MESSAGE_TYPES, messageSchema, type MessageType, type SegmentMessage } from './segment.schemas.ts';
import { correctTimestamp } from './segment.time.ts';
import { mapTraits } from './segment.traits.ts';
import { isRecord, type Props } from './segment.values.ts';

type InteractionKind = (typeof INTERACTION_KINDS)[number];
export type SkipReason = 'malformed' | 'not_stored';

/**
 * One message's fate: our events (still to be validated by our event schema), or a skip. An
 * `alias`, and an identify or track that names both a userId and an anonymousId, give `alias`
 * events (docs/architecture.md, "Identity").
 */
export type Mapped =
  | { kind: 'event'; type: MessageType; events: Props[] }
  | { kind: 'skip'; type: MessageType | 'unknown'; reason: SkipReason; detail: string };

export interface MapContext {
  receivedAt: Date;
  /** the batch's `sentAt`, for messages without their own */
  sentAt?: string | undefined;
  /** the batch's `context`, which every message's own `context` extends */
  context?: Props | undefined;
}

// Spec event names (e-commerce v2, email, live chat, mobile), matched without regard to case,
// spaces or underscores; anything else is an interaction of kind `other` that keeps its name.
const TRACKS: Record<string, { kind: 'order' | 'refund' | 'order_cancelled' } | { kind: 'interaction'; interaction: InteractionKind }> = {
  ordercompleted: { kind: 'order' },
  orderrefunded: { kind: 'refund' },
  ordercancelled: { kind: 'order_cancelled' },
  emailopened: { kind: 'interaction', interaction: 'email_open' },
  emaillinkclicked: { kind: 'interaction', interaction: 'email_click' },
  productviewed: { kind: 'interaction', interaction: 'site_visit' },
  applicationopened: { kind: 'interaction', interaction: 'app_session' },
  complaintfiled: { kind: 'interaction', interaction: 'complaint' },
  ticketcreated: { kind: 'interaction', interaction: 'support_ticket' },
  surveysubmitted: { kind: 'interaction', interaction: 'survey' },
  productreviewed: { kind: 'interaction', interaction: 'review' },
  livechatconversationstarted: { kind: 'interaction', interaction: 'chat' },
};
const nameKey = (name: string) => name.toLowerCase().replace(/[\s_-]+/g, '');

/** The message's type: the one its /v1/<type> path implies, else its own `type` when it is one we know. */
export function messageTypeOf(raw: unknown, pathType?: MessageType): MessageType | undefined {
  const rawType = (raw as { type?: unknown } | null)?.type;
  return pathType ?? (MESSAGE_TYPES.includes(rawType as MessageType) ? (rawType as MessageType) : undefined);
}

/** Maps one Segment spec message to one of our events; `pathType` is the type a /v1/<type> path implies. */
export function mapMessage(raw: unknown, ctx: MapContext, pathType?: MessageType): Mapped {
  const type = messageTypeOf(raw, pathType);
  const skip = (reason: SkipReason, detail: string): Mapped => ({ kind: 'skip', type: type ?? 'unknown', reason, detail });
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return skip('malformed', 'a message must be an object');
  if (type === undefined) return skip('malformed', `type must be one of ${MESSAGE_TYPES.join(', ')}`);
  // Before anything walks it: a message of a few thousand nested brackets would exhaust the stack.
  if (nestsDeeperThan(raw) || nestsDeeperThan(ctx.context)) return skip('malformed', `a message and its batch context may nest at most ${MAX_JSON_DEPTH} levels`);
  if (Buffer.byteLength(JSON.stringify(raw)) > MAX_MESSAGE_BYTES) return skip('malformed', 'a message may be at most 32 KB');
  if (type !== 'track' && type !== 'identify' && type !== 'alias') return skip('not_stored', `${type} messages are accepted and counted, not stored`);
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return skip('malformed', `${issue.path.join('.') || 'message'}: ${issue.message}`);
  }
  const message = ctx.context ? { ...parsed.data, context: { ...ctx.context, ...parsed.data.context } } : parsed.data;
  const userId = idOf(message.userId);
  const anonymous = idOf(message.anonymousId);
  if (userId === '' && anonymous === '') return skip('malformed', 'userId or anonymousId is required');
  const occurredAt = correctTimestamp(message, ctx.sentAt, ctx.receivedAt);
  if (occurredAt === null) return skip('malformed', 'timestamp, originalTimestamp, sentAt and receivedAt must be ISO 8601 instants, and the corrected time a date');
  const id = message.messageId ?? contentId(raw);
  // Anonymous-only messages are kept under the visible id anon:<anonymousId>, merged into the
  // customer once a message links the two.
  const common = { id, customer_id: userId === '' ? anonymousProfile(anonymous) : userId, occurred_at: occurredAt.toISOString() };
  const alias = (eventId: string, previousId: string) => ({ id: eventId, type: 'alias', customer_id: userId, previous_id: previousId, occurred_at: common.occurred_at });
  const links = userId !== '' && anonymous !== '' ? [alias(linkId(userId, anonymousProfile(anonymous)), anonymousProfile(anonymous))] : [];
  if (type === 'alias') {
    // previousId is, as Segment defines it, the previous userId or anonymousId: both are merged.
    const previous = idOf((message as { previousId?: unknown }).previousId);
    if (userId === '' || previous === '') return skip('malformed', 'alias needs userId and previousId');
    const previousAnonymous = anonymousProfile(previous);
    return { kind: 'event', type, events: [alias(id, previous), alias(linkId(userId, previousAnonymous), previousAnonymous), ...links] };
  }
  if (type === 'identify') {
    const contextTraits = message.context?.traits;
    const traits = message.traits ?? (isRecord(contextTraits) ? contextTraits : {});
    return { kind: 'event', type, events: [{ ...common, type: 'customer', traits: mapTraits(traits) }, ...links] };
  }
  if (message.event === undefined || message.event.trim() === '') return skip('malformed', 'event (the track name) is required');
  return { kind: 'event', type, events: [{ ...common, ...mapTrack(message, message.event.trim()) }, ...links] };
}

const idOf = (value: unknown): string => (value === null || value === undefined ? '' : String(value).trim());

/**
 * The id of the alias that links a userId to an anonymous profile: the same for every message
 * naming the pair, so a browser that sends both on every message merges once and the rest are
 * duplicates.
 */
function linkId(userId: string, previousId: string): string {
  return `segment-alias-${createHash('sha256').update(`${userId}\u0000${previousId}`).digest('hex').slice(0, 40)}`;
}

function mapTrack(message: SegmentMessage, name: string): Props {
  const props: Props = message.properties ?? {};
  const known = TRACKS[nameKey(name)];
  // Order ids are opaque strings; a number is taken as its decimal form, anything else is missing.
  const orderId = typeof props.order_id === 'string' || typeof props.order_id === 'number' ? String(props.order_id) : undefined;
  switch (known?.kind) {
    case 'order':
      return keepFittingOrder({
        type: 'order',
        order_id: orderId,
        amount: orderAmountOf(props),
        discount_amount: discountOf(props.discount),
        currency: currencyOf(props.currency),
        channel: orderChannelOf(props, message.context, message.channel),
        region: typeof props.region === 'string' && props.region !== '' ? props.region : undefined,
        items: itemsOf(props.products),
        properties: storedProperties(name, props),
      });
    case 'refund': {
      const amount = refundAmountOf(props);
      const scope = amount === undefined ? { whole_order: true } : { amount };
      return definedOnly({ type: 'refund', order_id: orderId, ...scope, properties: storedProperties(name, props) });
    }
    case 'order_cancelled':
      return definedOnly({ type: 'order_cancelled', order_id: orderId, properties: storedProperties(name, props) });
    default: {
      const kind = known?.kind === 'interaction' ? known.interaction : 'other';
      const rating = props.rating;
      const satisfaction = Number.isInteger(rating) && (rating as number) >= 1 && (rating as number) <= 5 ? rating : undefined;
      const channel = [props.channel, message.context?.channel, message.channel].find((c) => typeof c === 'string' && c !== '');
      return definedOnly({
        type: 'interaction',
        kind,
        satisfaction: kind === 'survey' || kind === 'review' ? satisfaction : undefined,
        channel: typeof channel === 'string' ? channel.slice(0, 64) : undefined,
        properties: storedProperties(name, props),
      });
    }
  }
}

// Our `properties` hold the track name and the Segment properties (minus products, which become
// items), as long as they fit the 8 KB our events allow; else only the name.
function storedProperties(name: string, props: Props): Props {
  const { products: _products, ...rest } = props;
  const full = { ...rest, event: name };
  return Buffer.byteLength(JSON.stringify(full)) <= 8 * 1024 ? full : { event: name };
}

/** Without a messageId, the id is a hash of the message, so a resent identical message still dedupes. */
function contentId(raw: object): string {
  return `segment-${createHash('sha256').update(JSON.stringify(raw)).digest('hex').slice(0, 40)}`;
}

function definedOnly(event: Props): Props {
  return Object.fromEntries(Object.entries(event).filter(([, v]) => v !== undefined));
}
