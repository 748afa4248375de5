import type { EventInput } from './events.schemas.ts';
import { MAX_FUTURE_MS, type FieldProblem } from './field-problem.ts';
import type { IngestEvent } from './events.types.ts';
import { MIN_EVENT_INSTANT, MIN_EVENT_INSTANT_MS, unstorableTextProblems } from './storable.ts';

export interface IngestContext {
  receivedAt: Date;
  sentAt?: string | undefined;
  currency: string;
  /** `events` for a batch (paths like `events[3].amount`), '' for a single event. */
  pathPrefix: string;
}

const skewOf = (ctx: IngestContext) => (ctx.sentAt ? ctx.receivedAt.getTime() - Date.parse(ctx.sentAt) : 0);

/**
 * The checks a static schema cannot make: the deployment's currency, `occurred_at` inside
 * [MIN_EVENT_INSTANT, receipt + 5 minutes] once the sender's clock skew is removed (a wild
 * `sent_at` can push a sane instant out of what Postgres stores), and every string, keys and
 * nested values included, one Postgres stores unchanged. Works on raw input too, so a 400 lists
 * everything.
 */
export function semanticProblems(events: readonly unknown[], ctx: IngestContext): FieldProblem[] {
  const skewMs = skewOf(ctx);
  const latest = ctx.receivedAt.getTime() + MAX_FUTURE_MS;
  const problems: FieldProblem[] = [];
  const at = (i: number, field: string) => (ctx.pathPrefix ? `${ctx.pathPrefix}[${i}].${field}` : field);
  // A plain loop with no per-event closure: a 1,000-event batch runs this on every request.
  for (let i = 0; i < events.length; i++) {
    const raw = events[i];
    if (typeof raw !== 'object' || raw === null) continue;
    const event = raw as { type?: unknown; occurred_at?: unknown; currency?: unknown };
    const occurredAt = typeof event.occurred_at === 'string' ? Date.parse(event.occurred_at) : Number.NaN;
    if (occurredAt + skewMs > latest) {
      problems.push({ path: at(i, 'occurred_at'), message: 'is more than 5 minutes in the future' });
    } else if (occurredAt >= MIN_EVENT_INSTANT_MS && occurredAt + skewMs < MIN_EVENT_INSTANT_MS) {
      problems.push({ path: at(i, 'occurred_at'), message: `is before ${MIN_EVENT_INSTANT} once corrected for the sender's clock (sent_at)` });
    }
    if (event.type === 'order' && typeof event.currency === 'string' && event.currency !== ctx.currency) {
      problems.push({ path: at(i, 'currency'), message: `must be ${ctx.currency}, the currency this deployment accounts in` });
    }
    unstorableTextProblems(raw, ctx.pathPrefix ? `${ctx.pathPrefix}[${i}]` : '', problems);
  }
  return problems;
}

/** toISOString's form (UTC, milliseconds): a valid instant already written so is stored as sent. */
const STORED_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * `occurred_at` as stored: UTC with milliseconds, corrected for the skew. Parsing and formatting an
 * instant that is already in that form with no skew to remove gives it back unchanged, and costs
 * more than the rest of preparing an event, so it is kept as it is.
 */
const storedInstant = (occurredAt: string, skewMs: number): string =>
  skewMs === 0 && STORED_INSTANT.test(occurredAt) ? occurredAt : new Date(Date.parse(occurredAt) + skewMs).toISOString();

/** Valid events in their stored form, `occurred_at` corrected for the sender's clock skew. */
export function toIngestEvents(events: readonly EventInput[], ctx: IngestContext): IngestEvent[] {
  const skewMs = skewOf(ctx);
  const prepared = new Array<IngestEvent>(events.length);
  for (let i = 0; i < events.length; i++) {
    // `currency` is taken out with the stored columns (it is the deployment's by now), not deleted
    // from `data` afterwards: a delete turns the object into a slower, larger dictionary.
    const { id, type, customer_id, occurred_at, properties, currency: _currency, ...data } = events[i] as EventInput & { currency?: string };
    prepared[i] = {
      id,
      type,
      customer_id,
      occurred_at: storedInstant(occurred_at, skewMs),
      order_id: 'order_id' in data ? data.order_id : null,
      data,
      properties: properties ?? null,
    };
  }
  return prepared;
}
