import { z } from 'zod';

/** The Segment HTTP Tracking API limits, which the Segment and RudderStack SDKs also keep to. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;

export const MESSAGE_TYPES = ['track', 'identify', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

const instant = z.string().describe('ISO 8601 instant');
const record = z.record(z.string(), z.unknown());

/**
 * The common fields of a Segment spec message (track, identify, page, screen, group, alias), as
 * the SDKs send them. Loose on purpose: unknown fields are allowed and ignored, and a message
 * that does not fit is skipped and counted, never a refusal of the whole request.
 */
export const messageSchema = z
  .looseObject({
    type: z.enum(MESSAGE_TYPES).optional().describe('implied by the path for /v1/track, /v1/identify, …; required in a batch'),
    messageId: z.string().min(1).max(128).optional().describe('the event id: a resent messageId changes nothing'),
    userId: z.union([z.string().max(128), z.number()]).nullish().describe('the customer id'),
    anonymousId: z.union([z.string(), z.number()]).nullish().describe('without a userId, the message is kept under the customer anon:<anonymousId>; with one, the two are merged'),
    event: z.string().max(200).optional().describe('track: the event name, e.g. "Order Completed"'),
    properties: record.optional(),
    traits: record.optional(),
    context: record.optional(),
    channel: z.string().optional(),
    timestamp: instant.optional(),
    originalTimestamp: instant.optional(),
    sentAt: instant.optional(),
    receivedAt: instant.optional(),
  })
  .meta({ id: 'SegmentMessage' });

export type SegmentMessage = z.output<typeof messageSchema>;

export const batchBodySchema = z
  .looseObject({
    batch: z.array(z.unknown().describe('a SegmentMessage')).describe('messages; a malformed one is skipped and counted'),
    sentAt: instant.optional().describe('when the sender sent the batch, for clock-skew correction'),
    writeKey: z.string().optional().describe('alternative to Basic auth'),
    context: record.optional(),
  })
  .meta({ id: 'SegmentBatch' });

export const singleBodySchema = z.record(z.string(), z.unknown()).describe('a SegmentMessage');

export const successSchema = z.object({ success: z.literal(true) }).meta({ id: 'SegmentSuccess' });
