import { eventSchema, type EventInput } from '../api/events.schemas.ts';
import { semanticProblems, type IngestContext } from '../pipeline/ingest.prepare.ts';
import { formatPath } from '../api/problem.ts';
import { mapMessage, type MapContext, type SkipReason } from './segment.map.ts';
import type { MessageType } from './segment.schemas.ts';

export interface Outcome {
  type: MessageType | 'unknown';
  /** null when the message became an event to queue */
  skipped: SkipReason | null;
  detail?: string;
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
    const mapped = mapMessage(raw, ctx, pathType);
    if (mapped.kind === 'skip') {
      prepared.outcomes.push({ type: mapped.type, skipped: mapped.reason, detail: mapped.detail });
      continue;
    }
    const parsed = eventSchema.safeParse(mapped.event);
    const problems = parsed.success
      ? semanticProblems([mapped.event], ingest)
      : parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
    if (!parsed.success || problems.length > 0) {
      const detail = problems.map((p) => `${p.path || 'event'} ${p.message}`).join('; ');
      prepared.outcomes.push({ type: mapped.type, skipped: 'malformed', detail });
      continue;
    }
    prepared.events.push(parsed.data);
    prepared.outcomes.push({ type: mapped.type, skipped: null });
  }
  return prepared;
}
