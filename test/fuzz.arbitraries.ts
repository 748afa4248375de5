import fc from 'fast-check';

/**
 * Arbitraries for the fuzz suite (test/fuzz.test.ts): values shaped by the app's own OpenAPI
 * document (generated from the zod schemas), and hostile values to mix into them.
 */

/** A piece of JSON text written as is: numbers JSON.stringify cannot write (1e400, -0) and deep nesting. */
export class Raw {
  constructor(readonly text: string) {}
}

/** JSON text of a value that may hold Raw pieces and own `__proto__` keys (JSON.stringify keeps lone surrogates escaped). */
export function jsonText(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Sets a key as an own property, `__proto__` included (assignment would change the prototype instead). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const INSTANTS = [
  '0000-01-01T00:00:00Z', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '+275760-09-13T00:00:00Z', '-000001-01-01T00:00:00Z',
  '2023-02-29T00:00:00Z', '2026-02-30T00:00:00Z', '2026-04-31T12:00:00Z', '2026-13-01T00:00:00Z', '2026-01-01T24:00:01Z',
  '2026-01-01T00:00:60Z', '2026-01-01', '2026-01-01T00:00:00', '2026-01-01T00:00:00+25:00', '1970-01-01T00:00:00.0000000001Z',
  'garbage', '2026-W01', 'now', '',
];
const MONEY = [
  '1234567890123456.5', '123456789012345.12345', '0.00001', '99999999999999999999999999', '-1', '-0.01', '1e3', '1E+400', '+1',
  '0x10', ' 12.5 ', '12,50', '١٢٣', 'NaN', 'Infinity', '.5', '5.', '00000000000000000000001', '1.2.3',
];
const TEXT = [
  '\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\udc00\ud800', '', ' ', '\t\n', '\u202e\u0000', '💥', 'e\u0301', '\uffff', '\ufeff',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '../../etc/passwd', "'; drop table events; --",
  '%00', '\\u0000', '$(rm -rf /)', '{{7*7}}', 'null', 'true', '{}', '[]', 'a'.repeat(129), 'a'.repeat(2_049),
];
const NUMBERS = [
  new Raw('1e400'), new Raw('-1e400'), new Raw('1e-400'), new Raw('-0'), new Raw('123456789012345678901234567890'),
  new Raw('9007199254740993'), new Raw('0.1234567890123456789'), new Raw('1E2'), -1, 0, 1.5, 2 ** 31, 2 ** 53, -(2 ** 63), 1e21,
  Number.MAX_VALUE, Number.MIN_VALUE,
];
const SHAPES = (): unknown[] => [
  null, true, false, [], {}, [null], { a: { b: { c: [] } } },
  new Raw(`${'['.repeat(5_000)}${']'.repeat(5_000)}`),
  new Raw(`${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}`),
  Array.from({ length: 2_000 }, (_, i) => i),
  Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i])),
  pollution('__proto__'),
  { constructor: { prototype: { polluted: true } } },
];

function pollution(key: string): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  setOwn(o, key, { polluted: true });
  return o;
}

/** One hostile JSON value: bad text, instants, money, numbers, wrong types, odd shapes. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(...TEXT),
  fc.constantFrom(...INSTANTS),
  fc.constantFrom(...MONEY),
  fc.constantFrom(...NUMBERS),
  fc.constantFrom(...SHAPES()),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: fc.constantFrom('\u0000', '\ud800', '\udfff', 'a', '€', '😀'), minLength: 1, maxLength: 8 }),
  fc.double(),
  fc.integer(),
  fc.nat({ max: 100_000 }).map((n) => 'x'.repeat(n)),
);

/** A key to add to an object: pollution keys, unstorable text, or an unknown field. */
export const hostileKey = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', '\u0000', 'a\u0000', '\ud800', '', 'extra', 'type', 'id', '$where'),
  fc.string({ maxLength: 10 }),
);

export interface Schema {
  $ref?: string;
  type?: string | string[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
}

/** A past instant in the range every route accepts, as the app writes instants. */
export const pastInstant = fc
  .date({ min: new Date('2015-01-01T00:00:00Z'), max: new Date('2025-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => d.toISOString());

const safeText = (min = 0, max = 12) => fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: min, maxLength: max });

/**
 * A value valid in shape for a JSON schema of the OpenAPI document (its $refs resolved in
 * `components`): enums, consts, formats, patterns, bounds and required properties respected.
 * Deep recursive schemas (segment rules) stop at `depth`.
 */
export function fromSchema(schema: Schema | undefined, components: Record<string, Schema>, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return fc.constant({});
  if (schema.$ref) return fromSchema(components[schema.$ref.split('/').pop()!], components, depth + 1);
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => fromSchema(s, components, depth + 1)));
  if (schema.allOf) return fromSchema(schema.allOf[0], components, depth + 1);
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type) => fromSchema({ ...schema, type }, components, depth)));
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date-time') return pastInstant;
      if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= (schema.maxLength ?? 2_000));
      return safeText(schema.minLength ?? 0, Math.min(schema.maxLength ?? 12, 12));
    case 'integer':
      return fc.integer({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000 });
    case 'number':
      return fc.double({ min: schema.minimum ?? -1_000, max: schema.maximum ?? 1_000, noNaN: true, noDefaultInfinity: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(fromSchema(schema.items, components, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? 3, 3)),
      });
    case 'object':
    default: {
      const props = schema.properties ?? {};
      if (Object.keys(props).length === 0) {
        return schema.additionalProperties === false ? fc.constant({}) : fc.dictionary(safeText(1, 8), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
      }
      const record: Record<string, fc.Arbitrary<unknown>> = {};
      for (const [key, s] of Object.entries(props)) record[key] = fromSchema(s, components, depth + 1);
      return fc.record(record, { requiredKeys: schema.required ?? [] });
    }
  }
}

type Mutation = { kind: 'replace' | 'add' | 'drop' | 'whole'; at: number; key: string; value: unknown };

/** Every object, array and leaf in a value, with how to replace it. */
function places(value: unknown, out: { get: () => unknown; set: (v: unknown) => void; remove?: () => void }[] = [], holder?: { get: () => unknown; set: (v: unknown) => void; remove?: () => void }) {
  if (holder) out.push(holder);
  if (Array.isArray(value)) {
    value.forEach((_, i) => places(value[i], out, { get: () => value[i], set: (v) => (value[i] = v), remove: () => value.splice(i, 1) }));
  } else if (value !== null && typeof value === 'object' && !(value instanceof Raw)) {
    const o = value as Record<string, unknown>;
    for (const key of Object.keys(o)) places(o[key], out, { get: () => o[key], set: (v) => setOwn(o, key, v), remove: () => delete o[key] });
  }
  return out;
}

function applyMutation(value: unknown, m: Mutation): unknown {
  if (m.kind === 'whole') return m.value;
  const copy = structuredCloneWithRaw(value);
  const all = places(copy);
  if (all.length === 0) return m.value;
  const place = all[m.at % all.length]!;
  if (m.kind === 'replace') place.set(m.value);
  else if (m.kind === 'drop') place.remove?.();
  else {
    const target = place.get();
    if (target !== null && typeof target === 'object' && !Array.isArray(target) && !(target instanceof Raw)) setOwn(target as Record<string, unknown>, m.key, m.value);
    else if (copy !== null && typeof copy === 'object' && !Array.isArray(copy)) setOwn(copy as Record<string, unknown>, m.key, m.value);
    else place.set(m.value);
  }
  return copy;
}

function structuredCloneWithRaw(value: unknown): unknown {
  if (value instanceof Raw || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(structuredCloneWithRaw);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) setOwn(out, k, structuredCloneWithRaw(v));
  return out;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('replace', 'replace', 'replace', 'add', 'drop', 'whole'),
  at: fc.nat({ max: 1_000 }),
  key: hostileKey,
  value: hostileValue,
});

/** A valid-shaped value, left as is or with one to three hostile mutations; `mutated` says which. */
export function withHostility<T>(valid: fc.Arbitrary<T>, cleanWeight = 1): fc.Arbitrary<{ value: unknown; mutated: boolean }> {
  return fc.oneof(
    { arbitrary: valid.map((value) => ({ value: value as unknown, mutated: false })), weight: cleanWeight },
    {
      arbitrary: fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([value, ms]) => ({
        value: ms.reduce<unknown>((v, m) => applyMutation(v, m), value),
        mutated: true,
      })),
      weight: 3,
    },
  );
}

/** encodeURIComponent, except that a lone surrogate is written as its three WTF-8 bytes (%ED%A0%80) instead of throwing. */
export function encode(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.charCodeAt(0);
    out += ch.length === 1 && c >= 0xd800 && c <= 0xdfff
      ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('')
      : encodeURIComponent(ch);
  }
  return out;
}

/** A path segment: a valid value (percent-encoded), a known id, or raw hostile text for the URL. */
export function pathSegment(valid: fc.Arbitrary<unknown>, known: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    valid.map((v) => encode(String(v))),
    ...(known.length > 0 ? [fc.constantFrom(...known.map(encode))] : []),
    fc.constantFrom(
      '%00', 'a%00b', '%ED%A0%80', '%ED%BF%BF', '%E0%A4%A', '%', '%zz', '%C0%AE%C0%AE', '..', '.', '%2E%2E', 'a%2Fb', '%2F', '%20',
      '%F0%9F%92%A5', '-1', '0', '99999999999999999999', '1e3', '__proto__', 'constructor', '%5F%5Fproto%5F%5F', 'a'.repeat(129),
      'a'.repeat(1_025), 'a'.repeat(5_000), '%FF', '%C3%28', 'a;b', 'a?b', '%3F', '%23', '+', '%2B',
    ),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).map(encode),
  );
}

/** A query value as raw URL text: valid (encoded) or hostile. */
export function queryValue(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { arbitrary: valid.map((v) => encode(String(v))), weight: 2 },
    {
      arbitrary: fc.oneof(
        fc.constantFrom('%00', '%ED%A0%80', '%E0%A4%A', '%', '', 'NaN', '-1', '1e10', '1e999', '-0', '0x10', '1.5', '99999999999999999999999',
          'true', '[]', '%5B%5D', 'a'.repeat(10_000), '0000-01-01T00:00:00Z', '2026-02-30T00:00:00Z', '9999-12-31T23:59:59Z', 'garbage'),
        hostileValue.filter((v) => typeof v === 'string' || typeof v === 'number').map((v) => encode(String(v))),
      ),
      weight: 3,
    },
  );
}

/** A cursor: garbage, or base64url JSON of a hostile or plausible shape. */
export const cursorValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', '!!!', '%00', 'e30', 'bnVsbA', 'W10', 'eyJzIjoiaWQifQ', 'a'.repeat(5_000)),
  fc
    .record({ s: fc.oneof(fc.constantFrom('id', 'net_revenue', '-net_revenue', 'last_order_at'), hostileValue), k: hostileValue, id: hostileValue, at: hostileValue })
    .map((o) => Buffer.from(jsonText(o)).toString('base64url')),
  hostileValue.map((v) => Buffer.from(jsonText(v)).toString('base64url')),
);
