import type { Decimal } from 'decimal.js';
import type { StoredEvent } from '../events/events.types.ts';
import { categorySpend, interactionHistory, modelPurchases, pastEvents, resolveOrders, type InteractionHistory, type ResolvedOrder } from './metrics.orders.ts';
import { moneyString, sumMoney } from '../money.ts';
import { minDate } from '../time.ts';

/** An order as every derivation after the digest sees it: when, the net value, and whether metrics count it. */
export interface DigestOrder {
  occurredAt: Date;
  net: string;
  /** counted by the metrics (docs/architecture.md, Metrics); the others here are the model's free purchases (modelPurchases) */
  counted: boolean;
}

/**
 * What a customer's derivation reads from their events, reduced once as of `takenAt`: the orders
 * the metrics and the model count (without items), what the items, discounts, channels and
 * regions sum up to, and the interaction instants. Metrics, scores, review instants and
 * predictions are all derived from a digest and `now`, so a digest stands in for the events for
 * any `now` before `validUntil`, the first event stamped after `takenAt` (ingest accepts a few
 * minutes of skew); `eventCount` says which events it was taken from (events are only ever added,
 * and erasure removes the customer with them).
 */
export interface CustomerDigest {
  takenAt: Date;
  validUntil: Date | null;
  eventCount: number;
  /** counted orders and the model's free purchases, in (occurredAt, id) order */
  orders: DigestOrder[];
  /** the sum of the counted orders' net values */
  netRevenue: string;
  discountedOrders: number;
  distinctCategories: number;
  topCategories: string[];
  preferredChannel: string | null;
  /** the latest counted order's region, else any order's (the trait wins over it) */
  orderRegion: string | null;
  firstEventAt: Date | null;
  interactions: InteractionHistory;
}

export function digestEvents(events: StoredEvent[], now: Date): CustomerDigest {
  const past = pastEvents(events, now);
  const resolved = resolveOrders(events, now);
  const counted = resolved.filter((o) => o.counted);
  return {
    takenAt: now,
    validUntil: minDate(events.map((e) => e.occurredAt).filter((at) => at.getTime() > now.getTime())),
    eventCount: events.length,
    orders: modelPurchases(resolved).map((o) => ({ occurredAt: o.occurredAt, net: o.net, counted: o.counted })),
    netRevenue: moneyString(sumMoney(counted.map((o) => o.net))),
    discountedOrders: counted.filter((o) => o.discounted).length,
    distinctCategories: countCategories(counted),
    topCategories: topCategories(categorySpend(counted)),
    preferredChannel: preferredChannel(counted),
    orderRegion: latestRegion(counted) ?? latestRegion(resolved),
    firstEventAt: past[0]?.occurredAt ?? null,
    interactions: interactionHistory(events, now),
  };
}

/** The digest holds for `now` while no event stamped after it was taken has come of age. */
export function digestHoldsAt(digest: CustomerDigest, now: Date): boolean {
  return now.getTime() >= digest.takenAt.getTime() && (digest.validUntil === null || now.getTime() < digest.validUntil.getTime());
}

function countCategories(orders: ResolvedOrder[]): number {
  const names = new Set<string>();
  for (const o of orders) for (const item of o.items) if (item.category?.trim()) names.add(item.category.trim());
  return names.size;
}

// Categories that only appear on zero-priced lines got no spend and are not "top"; ties on spend
// are broken by name so the list is stable.
function topCategories(spend: Map<string, Decimal>): string[] {
  return [...spend.entries()]
    .filter(([, amount]) => amount.gt(0))
    .sort(([a, x], [b, y]) => y.cmp(x) || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, 3)
    .map(([name]) => name);
}

// Most counted orders wins; among tied channels, the one used most recently wins.
function preferredChannel(orders: ResolvedOrder[]): string | null {
  const stats = new Map<string, { count: number; lastIndex: number }>();
  orders.forEach((o, index) => {
    if (!o.channel) return;
    const s = stats.get(o.channel) ?? { count: 0, lastIndex: -1 };
    stats.set(o.channel, { count: s.count + 1, lastIndex: index });
  });
  let best: [string, { count: number; lastIndex: number }] | null = null;
  for (const entry of stats) {
    const [, s] = entry;
    if (!best || s.count > best[1].count || (s.count === best[1].count && s.lastIndex > best[1].lastIndex)) best = entry;
  }
  return best?.[0] ?? null;
}

function latestRegion(orders: ResolvedOrder[]): string | null {
  return orders.findLast((o) => o.region !== null && o.region !== '')?.region ?? null;
}

// The stored form: a compact JSON array, kept as text (jsonb would add an entry header per element),
// read back by a rescore instead of the events; small because it is stored on every customer row
// (docs/architecture.md, Storage). Positions instead of keys, and
// instants in base 36 (takenAt, validUntil and firstEventAt as epoch ms strings), the per-order and
// per-interaction lists as one string each, each list's first instant as epoch ms and every later
// one as the ms since the one before it (a few characters fewer than an epoch), an order's net
// after a mark that also says whether it is counted. The
// first element versions the shape: a digest of an unknown version is not used, and the customer
// is derived from the events instead (which writes a current one). Version 2 (the same with every
// instant as decimal or base-36 epoch ms) and version 1 (an object with one key per field) are still read.
const DIGEST_VERSION = 3;

/** [version, takenAt ms, validUntil ms, eventCount, orders, netRevenue, discounted, categories, top categories, channel, region, firstEventAt ms, interactions, complaints, satisfaction] */
export type PackedDigestV3 = [v: 3, ...PackedFields<string>];

/** The same fields, with takenAt, validUntil and firstEventAt as numbers and the instants of the lists as base-36 epoch ms each. */
export type PackedDigestV2 = [v: 2, ...PackedFields<number>];

/** `Instant`: how takenAt, validUntil and firstEventAt are written, as epoch ms. */
type PackedFields<Instant> = [
  t: Instant,
  u: Instant | null,
  n: number,
  o: string,
  r: string,
  d: number,
  k: number,
  c: string[],
  ch: string | null,
  rg: string | null,
  f: Instant | null,
  i: string,
  x: string,
  /** [at ms, satisfaction] */
  s: [number, number][],
];

export interface PackedDigestV1 {
  v: 1;
  t: number;
  u: number | null;
  n: number;
  /** [occurredAt ms, net, counted 1 | 0] */
  o: [number, string, number][];
  r: string;
  d: number;
  k: number;
  c: string[];
  ch: string | null;
  rg: string | null;
  f: number | null;
  i: number[];
  x: number[];
  s: [number, number][];
}

export type PackedDigest = PackedDigestV3 | PackedDigestV2 | PackedDigestV1;

const ms36 = (d: Date | null) => (d ? d.getTime().toString(36) : null);
/** An epoch ms as version 3 (base 36) or versions 1 and 2 (a number) write it. */
const epoch = (t: string | number) => new Date(typeof t === 'string' ? parseInt(t, 36) : t);
const date = (t: string | number | null) => (t === null ? null : epoch(t));

// Money strings (domain/money.ts) hold digits, a point and perhaps an exponent sign, never these marks.
const COUNTED = ':';
const FREE = '!';

/**
 * A list's instants in base 36: the first as epoch ms, each later one as the ms since the one
 * before it (negative, with a minus sign, for a list out of order), `deltas` false for version 2's
 * epoch ms throughout. `read` turns them back into epoch ms in order.
 */
function instantCodes(list: Date[]): string[] {
  let previous = 0;
  return list.map((at) => {
    const code = (at.getTime() - previous).toString(36);
    previous = at.getTime();
    return code;
  });
}

function instantReader(deltas: boolean): (code: string) => Date {
  let previous = 0;
  return (code) => {
    const t = parseInt(code, 36) + previous;
    if (deltas) previous = t;
    return new Date(t);
  };
}

const instants = (list: Date[]) => instantCodes(list).join(',');

function readInstants(text: string, deltas: boolean): Date[] {
  return text === '' ? [] : text.split(',').map(instantReader(deltas));
}

function packOrders(orders: DigestOrder[]): string {
  const codes = instantCodes(orders.map((o) => o.occurredAt));
  return orders.map((o, i) => `${codes[i]}${o.counted ? COUNTED : FREE}${o.net}`).join(',');
}

function unpackOrders(text: string, deltas: boolean): DigestOrder[] {
  if (text === '') return [];
  const read = instantReader(deltas);
  return text.split(',').map((entry) => {
    // An entry holds one mark; the instant (perhaps with a minus sign) and the amount hold neither.
    const counted = entry.indexOf(COUNTED);
    const mark = counted >= 0 ? counted : entry.indexOf(FREE);
    return { occurredAt: read(entry.slice(0, mark)), net: entry.slice(mark + 1), counted: entry[mark] === COUNTED };
  });
}

export function packDigest(d: CustomerDigest): PackedDigestV3 {
  return [
    DIGEST_VERSION,
    d.takenAt.getTime().toString(36),
    ms36(d.validUntil),
    d.eventCount,
    packOrders(d.orders),
    d.netRevenue,
    d.discountedOrders,
    d.distinctCategories,
    d.topCategories,
    d.preferredChannel,
    d.orderRegion,
    ms36(d.firstEventAt),
    instants(d.interactions.interactions),
    instants(d.interactions.complaints),
    d.interactions.satisfaction.map((s) => [s.at.getTime(), s.value]),
  ];
}

/**
 * Digests unpacked from stored text of the current version, with that text: packing is a pure
 * function of the digest and gives that text back, so serializing one of these again (every
 * recompute and rescore stores the digest it used) returns the text instead of packing anew.
 * Digests are never changed after they are made.
 */
const storedText = new WeakMap<CustomerDigest, string>();

/** The text stored in customers.digest. */
export function serializeDigest(d: CustomerDigest): string {
  return storedText.get(d) ?? JSON.stringify(packDigest(d));
}

/** The stored text as a packed digest, of whatever version; null for none (or anything unreadable, which is then taken again from the events). */
export function parseDigest(text: string | null | undefined): PackedDigest | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as PackedDigest;
  } catch {
    return null;
  }
}

/** How many events a stored digest was taken from (null for no digest of a known version): checked before unpacking. */
export function packedEventCount(p: PackedDigest | null | undefined): number | null {
  if (Array.isArray(p)) return p[0] === DIGEST_VERSION || p[0] === 2 ? p[3] : null;
  return p && p.v === 1 ? p.n : null;
}

/**
 * null for anything that is not a digest of a known version. `text`: the stored text `p` was parsed
 * from (parseDigest), which serializeDigest then gives back for a digest of the current version.
 */
export function unpackDigest(p: PackedDigest | null | undefined, text?: string): CustomerDigest | null {
  if (Array.isArray(p)) {
    if (p[0] !== DIGEST_VERSION && p[0] !== 2) return null;
    const deltas = p[0] === DIGEST_VERSION;
    const [, t, u, n, o, r, d, k, c, ch, rg, f, i, x, s] = p;
    const digest: CustomerDigest = {
      takenAt: epoch(t),
      validUntil: date(u),
      eventCount: n,
      orders: unpackOrders(o, deltas),
      netRevenue: r,
      discountedOrders: d,
      distinctCategories: k,
      topCategories: c,
      preferredChannel: ch,
      orderRegion: rg,
      firstEventAt: date(f),
      interactions: { interactions: readInstants(i, deltas), complaints: readInstants(x, deltas), satisfaction: s.map(([at, value]) => ({ at: new Date(at), value })) },
    };
    // Only the current version's text is what packing it gives back.
    if (text !== undefined && deltas) storedText.set(digest, text);
    return digest;
  }
  if (!p || p.v !== 1) return null;
  return {
    takenAt: new Date(p.t),
    validUntil: date(p.u),
    eventCount: p.n,
    orders: p.o.map(([at, net, counted]) => ({ occurredAt: new Date(at), net, counted: counted === 1 })),
    netRevenue: p.r,
    discountedOrders: p.d,
    distinctCategories: p.k,
    topCategories: p.c,
    preferredChannel: p.ch,
    orderRegion: p.rg,
    firstEventAt: date(p.f),
    interactions: {
      interactions: p.i.map((at) => new Date(at)),
      complaints: p.x.map((at) => new Date(at)),
      satisfaction: p.s.map(([at, value]) => ({ at: new Date(at), value })),
    },
  };
}
