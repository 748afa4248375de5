import { eventSchema, type EventInput } from '../../domain/events/events.schemas.ts';
import { semanticProblems, type IngestContext } from '../../domain/events/events.checks.ts';
import { formatPath } from '../../domain/events/field-problem.ts';
import { mapMessage, messageTypeOf, type MapContext, type SkipReason } from './segment.map.ts';
import type { MessageType } from './segment.schemas.ts';

export interface Outcome {
  type: MessageType | 'unknown';
  /** null when the message became an event to queue */
  skipped: SkipReason | null;
  detail?: string;
  /** what the mapper threw, for the log: a message it cannot handle is a bug to fix, not only bad input */
  error?: unknown;
}

export interface Prepared {
  events: EventInput[];
  outcomes: Outcome[];
}

/**
 * Maps a request's messages and passes each resulting event through the same validation as our
 * own POST /v1/events/batch (event schema, currency, not in the future). Segment semantics: a
 * message that fails is skipped and counted, the others go on.
 */
export function prepareMessages(messages: readonly unknown[], ctx: MapContext & { currency: string }, pathType?: MessageType): Prepared {
  // Timestamps are corrected per message by the mapper, so the shared checks see no batch skew.
  const ingest: IngestContext = { receivedAt: ctx.receivedAt, currency: ctx.currency, pathPrefix: '' };
  const prepared: Prepared = { events: [], outcomes: [] };
  for (const raw of messages) {
    try {
      const { outcome, events } = prepareMessage(raw, ctx, ingest, pathType);
      if (events) prepared.events.push(...events);
      prepared.outcomes.push(outcome);
    } catch (error) {
      // One message must never fail the request: the SDK would retry, then drop the whole batch.
      const detail = `the message could not be mapped: ${error instanceof Error ? error.message : String(error)}`;
      prepared.outcomes.push({ type: messageTypeOf(raw, pathType) ?? 'unknown', skipped: 'malformed', detail, error });
    }
  }
  return prepared;
}

/** A message's events are kept or skipped together: a link (alias) never goes without its event. */
function prepareMessage(raw: unknown, ctx: MapContext, ingest: IngestContext, pathType: MessageType | undefined): { outcome: Outcome; events?: EventInput[] } {
  const mapped = mapMessage(raw, ctx, pathType);
  if (mapped.kind === 'skip') return { outcome: { type: mapped.type, skipped: mapped.reason, detail: mapped.detail } };
  const events: EventInput[] = [];
  for (const event of mapped.events) {
    const parsed = eventSchema.safeParse(event);
    const problems = parsed.success
      ? semanticProblems([event], ingest)
      : parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
    if (!parsed.success || problems.length > 0) {
      const detail = problems.map((p) => `${p.path || 'event'} ${p.message}`).join('; ');
      return { outcome: { type: mapped.type, skipped: 'malformed', detail } };
    }
    events.push(parsed.data);
  }
  return { outcome: { type: mapped.type, skipped: null }, events };
}
