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

// The stored form: a compact JSON value (instants as epoch ms), read back by a rescore instead of
// the events. `v` versions the shape: a digest of another version is not used, and the customer is
// derived from the events instead (which writes a current one).
const DIGEST_VERSION = 1;

export interface PackedDigest {
  v: number;
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
  /** [at ms, satisfaction] */
  s: [number, number][];
}

const ms = (d: Date | null) => (d ? d.getTime() : null);
const date = (t: number | null) => (t === null ? null : new Date(t));

export function packDigest(d: CustomerDigest): PackedDigest {
  return {
    v: DIGEST_VERSION,
    t: d.takenAt.getTime(),
    u: ms(d.validUntil),
    n: d.eventCount,
    o: d.orders.map((o) => [o.occurredAt.getTime(), o.net, o.counted ? 1 : 0]),
    r: d.netRevenue,
    d: d.discountedOrders,
    k: d.distinctCategories,
    c: d.topCategories,
    ch: d.preferredChannel,
    rg: d.orderRegion,
    f: ms(d.firstEventAt),
    i: d.interactions.interactions.map((at) => at.getTime()),
    x: d.interactions.complaints.map((at) => at.getTime()),
    s: d.interactions.satisfaction.map((s) => [s.at.getTime(), s.value]),
  };
}

/** null for anything that is not a digest of the current version */
export function unpackDigest(p: PackedDigest | null | undefined): CustomerDigest | null {
  if (!p || p.v !== DIGEST_VERSION) return null;
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
