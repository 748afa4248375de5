import { describe, expect, it } from 'vitest';
import { eventSchema } from './events.schemas.ts';
import { semanticProblems, toIngestEvents, type IngestContext } from './events.checks.ts';
import { unstorableTextProblems } from './storable.ts';
import { formatPath } from './field-problem.ts';

const NOW = new Date('2026-06-01T12:00:00Z');
const single: IngestContext = { receivedAt: NOW, currency: 'USD', pathPrefix: '' };
const batch = (sentAt?: string): IngestContext => ({ receivedAt: NOW, sentAt, currency: 'USD', pathPrefix: 'events' });

const order = (extra: Record<string, unknown> = {}) => ({
  id: 'e1', type: 'order', customer_id: 'c1', occurred_at: '2026-05-01T00:00:00Z', order_id: 'o1', amount: '10', ...extra,
});

/** Every problem an event has, schema and semantic, as `path: message`. */
function problemsOf(event: unknown, ctx: IngestContext = single): string[] {
  const parsed = eventSchema.safeParse(event);
  const schema = parsed.success ? [] : parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
  return [...schema, ...semanticProblems([event], ctx).map((p) => `${p.path}: ${p.message}`)];
}

describe('unstorableTextProblems', () => {
  it('names every bad string and key at its path, however deep', () => {
    const value = { ok: 'x', a: ['fine', 'b\u0000'], nested: { deeper: [{ 'k\ud800': 1 }] } };
    expect(unstorableTextProblems(value, 'events[2]').map((p) => p.path)).toEqual([
      'events[2].a[1]',
      'events[2].nested.deeper[0].k\\ud800',
    ]);
  });

  it('refuses nesting past its depth limit instead of walking it', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(unstorableTextProblems(deep, 'p', [], 32)).toEqual([{ path: `p${'[0]'.repeat(32)}`, message: 'is nested too deeply' }]);
  });
});

describe('the event contract refuses what Postgres cannot store', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['NUL in customer_id', order({ customer_id: 'c\u0000x' }), 'customer_id: must not contain NUL'],
    ['lone surrogate in id', order({ id: 'e\ud800' }), 'id: must not contain NUL'],
    ['NUL in order_id', order({ order_id: '\u0000' }), 'order_id: must not contain NUL'],
    ['NUL in an item sku', order({ items: [{ sku: 'a\u0000' }] }), 'items[0].sku: must not contain NUL'],
    ['lone surrogate in a property value', order({ properties: { note: ['x', { y: 'a\udfff' }] } }), 'properties.note[1].y: must not contain NUL'],
    ['lone surrogate in a property key', order({ properties: { 'a\ud800b': 1 } }), 'properties.a\\ud800b: key must not contain NUL'],
    ['lone surrogate in a trait key', { id: 't', type: 'customer', customer_id: 'c', occurred_at: '2026-05-01T00:00:00Z', traits: { 'a\ud800b': 'v' } }, 'traits.a\\ud800b: key must not'],
    ['NUL in a trait value', { id: 't', type: 'customer', customer_id: 'c', occurred_at: '2026-05-01T00:00:00Z', traits: { email: 'x\u0000@y' } }, 'traits.email: must not contain NUL'],
    ['occurred_at in year 0', order({ occurred_at: '0000-01-01T00:00:00Z' }), 'occurred_at: must not be before 1970-01-01T00:00:00Z'],
    ['occurred_at before 1970', order({ occurred_at: '1969-12-31T23:59:59Z' }), 'occurred_at: must not be before 1970'],
    ['occurred_at in the far future', order({ occurred_at: '9999-12-31T23:59:59Z' }), 'occurred_at: is more than 5 minutes in the future'],
    ['an amount past 15 integer digits', order({ amount: '1234567890123456' }), 'amount: must be a non-negative decimal'],
    ['an amount past 4 decimals', order({ amount: '1.23456' }), 'amount: must be a non-negative decimal'],
    ['a JSON-number amount a double cannot hold', order({ amount: 123456789012345.1234 }), 'amount: as a JSON number holds at most 15 significant digits'],
    ['a JSON-number unit price a double cannot hold', order({ items: [{ unit_price: 12345678901234567 }] }), 'items[0].unit_price: as a JSON number'],
  ])('%s', (_name, event, expected) => {
    const problems = problemsOf(event);
    expect(problems.some((p) => p.startsWith(expected)), problems.join('\n')).toBe(true);
  });

  it.each<[string, Record<string, unknown>]>([
    ['the largest amount, as a string', order({ amount: '999999999999999.9999' })],
    ['a 15-digit JSON number', order({ amount: 99999999999.9999 })],
    ['a surrogate pair (emoji) anywhere', order({ customer_id: '😀', properties: { '😀': '😀' } })],
    ['the first instant of the window', order({ occurred_at: '1970-01-01T00:00:00Z' })],
    ['5 minutes ahead', order({ occurred_at: '2026-06-01T12:05:00Z' })],
  ])('accepts %s', (_name, event) => {
    expect(problemsOf(event)).toEqual([]);
  });

  it('refuses an instant that clock-skew correction moves before 1970 (sent_at far in the future)', () => {
    const problems = semanticProblems([order()], batch('9999-12-31T23:59:59Z'));
    expect(problems).toEqual([{ path: 'events[0].occurred_at', message: "is before 1970-01-01T00:00:00Z once corrected for the sender's clock (sent_at)" }]);
    // A sender whose clock is years ahead, with instants on the same clock, is corrected, not refused.
    expect(semanticProblems([order({ occurred_at: '2030-05-31T12:00:00Z' })], batch('2030-06-01T12:00:00Z'))).toEqual([]);
  });
});

describe('toIngestEvents stores occurred_at as a UTC instant with milliseconds', () => {
  it.each<[string, string, string | undefined, string]>([
    ['already in the stored form', '2026-05-01T10:20:30.456Z', undefined, '2026-05-01T10:20:30.456Z'],
    ['without milliseconds', '2026-05-01T10:20:30Z', undefined, '2026-05-01T10:20:30.000Z'],
    ['with an offset', '2026-05-01T12:20:30.456+02:00', undefined, '2026-05-01T10:20:30.456Z'],
    ['with more digits than milliseconds', '2026-05-01T10:20:30.4567Z', undefined, '2026-05-01T10:20:30.456Z'],
    ['in the stored form, sender 1 hour ahead', '2026-05-01T10:20:30.456Z', '2026-06-01T13:00:00Z', '2026-05-01T09:20:30.456Z'],
    ['in the stored form, sender on time', '2026-05-01T10:20:30.456Z', '2026-06-01T12:00:00Z', '2026-05-01T10:20:30.456Z'],
  ])('%s: %s (sent_at %s) → %s', (_name, occurredAt, sentAt, expected) => {
    const [event] = eventSchema.array().parse([order({ occurred_at: occurredAt })]);
    expect(toIngestEvents([event!], sentAt ? batch(sentAt) : single)[0]!.occurred_at).toBe(expected);
  });
});
