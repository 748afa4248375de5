import { z } from 'zod';
import { isExactNumber, MAX_EXACT_NUMBER_DIGITS, MONEY_INTEGER_DIGITS, MONEY_SCALE } from '../money.ts';
import { isStorableText } from '../text.ts';
import { MIN_EVENT_INSTANT, MIN_EVENT_INSTANT_MS, UNSTORABLE_TEXT_MESSAGE } from './storable.ts';

const MAX_PROPERTIES_BYTES = 8 * 1024;

// Every string in an event, keys included, must be one Postgres stores unchanged: no NUL, no
// unpaired surrogate. semanticProblems (events.checks.ts) checks the whole event for it; the id
// and text fields check it themselves too, for the sources that reuse them field by field (the
// CSV import).
const storable = (schema: z.ZodString) => schema.refine(isStorableText, UNSTORABLE_TEXT_MESSAGE);
const id = storable(z.string().min(1).max(128)).describe('opaque id, 1–128 characters; no string in an event may contain NUL (U+0000) or an unpaired UTF-16 surrogate');
const text = (max = 256) => storable(z.string().min(1).max(max));
const timestamp = z.iso
  .datetime({ offset: true })
  .refine((s) => Date.parse(s) >= MIN_EVENT_INSTANT_MS, `must not be before ${MIN_EVENT_INSTANT}`)
  .describe(`RFC 3339 instant with offset, e.g. 2026-03-01T12:00:00Z; from ${MIN_EVENT_INSTANT} to 5 minutes past receipt (after clock-skew correction)`);
const MONEY_PATTERN = new RegExp(`^\\d{1,${MONEY_INTEGER_DIGITS}}(\\.\\d{1,${MONEY_SCALE}})?$`);

/**
 * Exact decimal in major units, at most 15 digits before the point and 4 after (what the money
 * columns hold), given as a string or a JSON number; stored as a string, never altered. A JSON
 * number is a double once parsed, so one with more than 15 significant digits is refused: it may
 * no longer be what was sent.
 */
function decimal(options: { positive: boolean }) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      if (typeof value === 'number' && !isExactNumber(value)) {
        ctx.addIssue({ code: 'custom', message: `as a JSON number holds at most ${MAX_EXACT_NUMBER_DIGITS} significant digits; send it as a string` });
        return z.NEVER;
      }
      const s = typeof value === 'number' ? String(value) : value.trim();
      if (!MONEY_PATTERN.test(s)) {
        ctx.addIssue({ code: 'custom', message: `must be a non-negative decimal with at most ${MONEY_SCALE} decimals and ${MONEY_INTEGER_DIGITS} digits before the point` });
        return z.NEVER;
      }
      if (options.positive && /^[0.]+$/.test(s)) {
        ctx.addIssue({ code: 'custom', message: 'must be greater than 0' });
        return z.NEVER;
      }
      return s;
    })
    .describe(
      `decimal in major units, at most ${MONEY_INTEGER_DIGITS} digits before the point and ${MONEY_SCALE} after, as a string ` +
        `(exact) or a JSON number of at most ${MAX_EXACT_NUMBER_DIGITS} significant digits`,
    );
}

const properties = z
  .record(z.string(), z.unknown())
  .refine((p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PROPERTIES_BYTES, {
    message: 'must be at most 8 KB serialized',
  })
  .optional();

const common = {
  id: id.describe('idempotency key, unique forever within the deployment'),
  customer_id: id,
  occurred_at: timestamp,
  properties,
};

export const ORDER_CHANNELS = ['online', 'store', 'app', 'marketplace', 'phone', 'other'] as const;
export const INTERACTION_KINDS = [
  'email_open', 'email_click', 'site_visit', 'app_session', 'support_ticket', 'complaint',
  'review', 'survey', 'call', 'chat', 'other',
] as const;

/** Also the field schemas of imported order items (src/domain/import.*). */
export const orderItem = z.strictObject({
  sku: text(128).optional(),
  category: text(128).optional(),
  quantity: z.number().int().min(0).max(1_000_000).optional(),
  unit_price: decimal({ positive: false }).optional(),
});

/** Also the field schemas of imported orders (src/domain/import.*). */
export const orderEvent = z.strictObject({
  ...common,
  type: z.literal('order'),
  order_id: id,
  amount: decimal({ positive: false }),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code').optional(),
  discount_amount: decimal({ positive: false }).optional(),
  channel: z.enum(ORDER_CHANNELS).optional(),
  region: text(128).optional(),
  items: z.array(orderItem).max(500).optional(),
});

// A refund gives its amount, or `whole_order: true` when the sender refunds the full order and
// may not know (or not yet have sent) its amount.
const refundEvent = z
  .strictObject({
    ...common,
    type: z.literal('refund'),
    order_id: id,
    amount: decimal({ positive: true }).optional(),
    whole_order: z.literal(true).optional().describe('refunds the whole order, whatever its amount; instead of amount'),
  })
  .refine((r) => (r.amount === undefined) !== (r.whole_order === undefined), {
    path: ['amount'],
    message: 'give either amount (> 0) or whole_order: true',
  });

const orderCancelledEvent = z.strictObject({ ...common, type: z.literal('order_cancelled'), order_id: id });

const interactionEvent = z.strictObject({
  ...common,
  type: z.literal('interaction'),
  kind: z.enum(INTERACTION_KINDS),
  satisfaction: z.number().int().min(1).max(5).optional(),
  channel: text(64).optional(),
});

const traits = z
  .looseObject({
    email: z.string().max(320).optional(),
    name: z.string().max(256).optional(),
    region: z.string().max(128).optional(),
    country: z.string().max(128).optional(),
    city: z.string().max(128).optional(),
    signup_at: timestamp.optional(),
    tags: z.array(z.string().max(128)).max(100).optional(),
  })
  .refine((t) => Buffer.byteLength(JSON.stringify(t)) <= MAX_PROPERTIES_BYTES, { message: 'must be at most 8 KB serialized' });

const customerEvent = z.strictObject({ ...common, type: z.literal('customer'), traits });

// Merges the profile `previous_id` into the one `customer_id` belongs to (docs/architecture.md, "Identity").
const aliasEvent = z.strictObject({
  ...common,
  type: z.literal('alias'),
  customer_id: id.describe('the customer that survives the merge'),
  previous_id: id.describe('the customer merged into customer_id; its events, later ones included, count for customer_id'),
});

export const eventSchema = z
  .discriminatedUnion('type', [orderEvent, refundEvent, orderCancelledEvent, interactionEvent, customerEvent, aliasEvent])
  .meta({ id: 'Event' });

export type EventInput = z.output<typeof eventSchema>;

export const MAX_BATCH_EVENTS = 1000;

export const batchSchema = z.strictObject({
  sent_at: timestamp.optional().describe('when the sender sent the batch; used to correct the sender clock skew'),
  events: z.array(eventSchema).min(1).max(MAX_BATCH_EVENTS),
});

export const acceptedSchema = z.object({ accepted: z.number().int() });

export const storedEventSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    customer_id: z.string(),
    occurred_at: z.string(),
    received_at: z.string(),
    properties: z.record(z.string(), z.unknown()).nullable(),
  })
  .catchall(z.unknown())
  .meta({ id: 'StoredEvent' });

// Field by field, for sources that map foreign messages: an optional field that does not fit is
// dropped there instead of refusing the whole event.
export const orderFields = orderEvent.shape;
export const orderItemFields = orderItem.shape;
export const reservedTraitFields = traits.shape;
export const aliasFields = aliasEvent.shape;
