import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../../test/seeded-random.ts';
import { deriveCustomerState, type CustomerStateInput } from '../customer/customer-state.ts';
import { previousStateOf } from '../../../test/fixtures/customer-state.fixtures.ts';
import { digestEvents, digestHoldsAt, packDigest, packedEventCount, parseDigest, serializeDigest, unpackDigest, type CustomerDigest, type PackedDigest } from './digest.ts';
import { cancel, day, interaction, order, refund, traitsEvent } from '../../../test/fixtures/events.fixtures.ts';
import type { StoredEvent } from '../events/events.types.ts';
import { CDNOW_BGNBD, CDNOW_GAMMA_GAMMA } from '../../../test/fixtures/model.fixtures.ts';
import { DEFAULT_POLICY } from '../policy/policy.ts';
import { predictFromDigest, type FittedModel } from '../model/predictions.ts';
import type { Breakpoints } from '../scoring/scores.ts';
import { DAY_MS } from '../time.ts';

const BP: Breakpoints = { recency_days: [10, 30, 60, 120], order_count: [1, 2, 3, 5], net_revenue: [10, 20, 50, 100] };
const FIT: FittedModel = {
  params: { bgnbd: { ...CDNOW_BGNBD, log_likelihood: 0 }, gamma_gamma: { ...CDNOW_GAMMA_GAMMA, log_likelihood: 0 } },
  fittedAt: day(0),
};

/** A random customer: orders with items, discounts, channels and regions, refunds, cancellations, interactions, traits. */
function randomEvents(random: () => number): StoredEvent[] {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const events: StoredEvent[] = [];
  const orders = Math.floor(random() * 9);
  for (let i = 0; i < orders; i++) {
    const at = Math.floor(random() * 700);
    const amount = pick(['0', '9.99', '25', '120.5', '7.25']);
    const o = order(at, amount, {
      discountAmount: random() < 0.3 ? '2' : null,
      channel: pick([null, 'web', 'app', 'store']),
      region: pick([null, '', 'north', 'south']),
      items: random() < 0.5 ? [] : [{ category: pick(['shoes', 'bags', ' hats ', '']), quantity: 1 + Math.floor(random() * 3), unit_price: pick(['0', '4.5', '10']) }],
    });
    events.push(o);
    if (random() < 0.15) events.push(refund(at + 3, o.orderId, random() < 0.5 ? null : '5'));
    if (random() < 0.1) events.push(cancel(at + 1, o.orderId));
  }
  for (let i = Math.floor(random() * 6); i > 0; i--) {
    events.push(interaction(Math.floor(random() * 700), pick(['site_visit', 'complaint', 'support']), random() < 0.5 ? null : 1 + Math.floor(random() * 5)));
  }
  if (random() < 0.2) events.push(traitsEvent(5, { region: 'east' }));
  return events;
}

function derive(digest: CustomerDigest, now: Date, traits: Record<string, unknown>, previous: CustomerStateInput['previous']) {
  const prediction = predictFromDigest(FIT, digest, now, DEFAULT_POLICY.at_risk.p_alive_below);
  return deriveCustomerState({
    digest,
    traits,
    now,
    stats: { breakpoints: BP, abc: { a_min: '100', b_min: '20' } },
    policy: DEFAULT_POLICY,
    previous,
    segments: [],
    predictions: prediction?.predictions ?? null,
    pAliveBelowAt: prediction?.pAliveBelowAt ?? null,
    pAliveBelowSince: prediction?.pAliveBelowSince ?? null,
  });
}

/** The digest as a rescore reads it back from its jsonb column. */
const stored = (d: CustomerDigest) => unpackDigest(JSON.parse(JSON.stringify(packDigest(d))))!;

describe('a stored digest', () => {
  it('derives exactly what the events derive, at any later instant it holds at (seeded random customers)', () => {
    const random = mulberry32(20261201);
    let compared = 0;
    for (let c = 0; c < 400; c++) {
      const events = randomEvents(random);
      const traits = random() < 0.2 ? { region: 'west' } : {};
      const takenAt = day(Math.floor(random() * 750));
      const digest = stored(digestEvents(events, takenAt));
      const first = derive(digestEvents(events, takenAt), takenAt, traits, null);
      for (const later of [0, 0.5, 3, 40, 200, 400]) {
        const now = new Date(takenAt.getTime() + later * DAY_MS + Math.floor(random() * DAY_MS));
        if (!digestHoldsAt(digest, now)) continue;
        const previous = previousStateOf(first, takenAt);
        expect(derive(digest, now, traits, previous)).toEqual(derive(digestEvents(events, now), now, traits, previous));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(1_000);
  });

  it.each([
    ['no event after it was taken: holds from then on', [order(10, '5')], day(20), day(900), true],
    ['before it was taken: does not hold', [order(10, '5')], day(20), day(19), false],
    ['an event stamped later: holds until just before it', [order(10, '5'), order(30, '5')], day(20), new Date(day(30).getTime() - 1), true],
    ['… and not once it is of age', [order(10, '5'), order(30, '5')], day(20), day(30), false],
  ] as const)('%s', (_name, events, takenAt, now, holds) => {
    expect(digestHoldsAt(stored(digestEvents([...events], takenAt)), now)).toBe(holds);
  });

  it('of another version, or none, is not used', () => {
    const packed = packDigest(digestEvents([order(1, '5')], day(2)));
    const [version, ...rest] = packed;
    expect(unpackDigest([version + 1, ...rest] as unknown as PackedDigest)).toBeNull();
    expect(unpackDigest({ v: 3 } as unknown as PackedDigest)).toBeNull();
    expect(unpackDigest(null)).toBeNull();
    expect(parseDigest('{"v":1')).toBeNull();
    expect(parseDigest(null)).toBeNull();
  });

  it('is stored as the JSON text of its packed form', () => {
    const d = digestEvents([order(1, '5'), order(3, '7.25')], day(4));
    expect(unpackDigest(parseDigest(serializeDigest(d)))).toEqual(d);
  });

  it('unpacked with its stored text packs back to exactly that text, so serializing it again may return the text (seeded random customers)', () => {
    const random = mulberry32(20261203);
    for (let c = 0; c < 400; c++) {
      const text = serializeDigest(digestEvents(randomEvents(random), day(Math.floor(random() * 750))));
      const read = unpackDigest(parseDigest(text), text)!;
      expect(JSON.stringify(packDigest(read))).toBe(text);
      expect(serializeDigest(read)).toBe(text);
    }
  });

  it('of the previous version (one key per field) is still read, as stored before', () => {
    const v1: PackedDigest = {
      v: 1, t: day(20).getTime(), u: null, n: 3, o: [[day(10).getTime(), '5.5', 1], [day(11).getTime(), '0', 0]], r: '5.5', d: 1, k: 2,
      c: ['shoes'], ch: 'web', rg: 'EU', f: day(9).getTime(), i: [day(9).getTime()], x: [], s: [[day(9).getTime(), 4]],
    };
    expect(packedEventCount(parseDigest(JSON.stringify(v1)))).toBe(3);
    const read = unpackDigest(parseDigest(JSON.stringify(v1)), JSON.stringify(v1))!;
    // Stored again in the current version's form, not as the old text.
    expect(serializeDigest(read)).toBe(JSON.stringify(packDigest(read)));
    expect(read.orders).toEqual([{ occurredAt: day(10), net: '5.5', counted: true }, { occurredAt: day(11), net: '0', counted: false }]);
    const at = (d: number) => day(d).getTime().toString(36);
    expect(packDigest(read)).toEqual([3, at(20), null, 3, `${at(10)}:5.5,${DAY_MS.toString(36)}!0`, '5.5', 1, 2, ['shoes'], 'web', 'EU', at(9), at(9), '', [[day(9).getTime(), 4]]]);
  });

  it('of version 2 (instants as epoch ms) is still read, and stored again in version 3', () => {
    const at = (d: number) => day(d).getTime().toString(36);
    const v2 = [2, day(20).getTime(), null, 4, `${at(10)}:5.5,${at(12)}!0`, '5.5', 0, 0, [], null, null, day(9).getTime(), `${at(9)},${at(11)}`, at(11), []];
    const text = JSON.stringify(v2);
    expect(packedEventCount(parseDigest(text))).toBe(4);
    const read = unpackDigest(parseDigest(text), text)!;
    expect(read.orders).toEqual([{ occurredAt: day(10), net: '5.5', counted: true }, { occurredAt: day(12), net: '0', counted: false }]);
    expect(read.interactions).toEqual({ interactions: [day(9), day(11)], complaints: [day(11)], satisfaction: [] });
    const days = (n: number) => (n * DAY_MS).toString(36);
    expect(serializeDigest(read)).toBe(JSON.stringify([3, at(20), null, 4, `${at(10)}:5.5,${days(2)}!0`, '5.5', 0, 0, [], null, null, at(9), `${at(9)},${days(2)}`, at(11), []]));
  });

  it('keeps instants out of order (a difference below zero) and equal ones', () => {
    const d: CustomerDigest = {
      ...digestEvents([], day(30)),
      orders: [{ occurredAt: day(5), net: '1', counted: true }, { occurredAt: day(5), net: '2', counted: false }],
      interactions: { interactions: [day(8), new Date(day(3).getTime() + 7)], complaints: [], satisfaction: [] },
    };
    expect(unpackDigest(parseDigest(serializeDigest(d)))).toEqual(d);
  });

  it('counts its events, so a rescore can tell that another arrived', () => {
    expect(digestEvents([order(1, '5'), interaction(2), order(900, '5')], day(3)).eventCount).toBe(3);
  });
});
