import type { SegmentMessage } from './segment.schemas.ts';

// NaN for a string that is no instant, so one check below refuses it.
const instantOf = (value: string | undefined): number | undefined => (value === undefined ? undefined : Date.parse(value));

// A Date holds ±8.64e15 ms; the correction can land outside that even when every input fits.
const dateOf = (ms: number): Date | null => {
  const date = new Date(ms);
  return Number.isFinite(date.getTime()) ? date : null;
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
 * Returns null when an instant is not a date, or the corrected one is past what a Date can hold
 * (a device time and sentAt hundreds of millennia apart).
 */
export function correctTimestamp(message: SegmentMessage, batchSentAt: string | undefined, receivedAt: Date): Date | null {
  const timestamp = instantOf(message.timestamp);
  const original = instantOf(message.originalTimestamp);
  const sentAt = instantOf(message.sentAt ?? batchSentAt);
  const received = instantOf(message.receivedAt) ?? receivedAt.getTime();
  if ([timestamp, original, sentAt, received].some((v) => Number.isNaN(v))) return null;
  if (timestamp !== undefined && original !== undefined) return dateOf(timestamp);
  const device = original ?? timestamp;
  if (device === undefined) return dateOf(received);
  if (sentAt === undefined) return dateOf(device);
  return dateOf(received - (sentAt - device));
}
