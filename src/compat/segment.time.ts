import type { SegmentMessage } from './segment.schemas.ts';

const parse = (value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? Number.NaN : ms;
};

/**
 * When the message happened, corrected for the sender's clock as Segment documents it:
 * timestamp = receivedAt − (sentAt − originalTimestamp).
 * - A message with both `timestamp` and `originalTimestamp` was already corrected upstream (a
 *   Segment/RudderStack destination forwarding it) or set explicitly (RudderStack keeps an
 *   explicit `timestamp` next to its own `originalTimestamp`): `timestamp` is used as is.
 * - Otherwise the device time is `originalTimestamp`, or `timestamp` (Segment libraries send the
 *   device time there); `sentAt` is the message's own or the batch's, and `receivedAt` is the
 *   message's when an upstream pipeline received it first, else ours.
 * - Without a device time the message happened when it was received.
 * Returns null when an instant is not a date.
 */
export function correctTimestamp(message: SegmentMessage, batchSentAt: string | undefined, receivedAt: Date): Date | null {
  const timestamp = parse(message.timestamp);
  const original = parse(message.originalTimestamp);
  const sentAt = parse(message.sentAt ?? batchSentAt);
  const received = parse(message.receivedAt) ?? receivedAt.getTime();
  if ([timestamp, original, sentAt, received].some((v) => Number.isNaN(v))) return null;
  if (timestamp !== undefined && original !== undefined) return new Date(timestamp);
  const device = original ?? timestamp;
  if (device === undefined) return new Date(received);
  if (sentAt === undefined) return new Date(device);
  return new Date(received - (sentAt - device));
}
