import { describe, expect, it } from 'vitest';
import { ageDays, instantAgeExceeds, instantAgeReaches, isoInstant, isWithinDays, parseTimestamp } from './time.ts';

const BASE = new Date('2024-03-10T13:45:12.345Z');

describe('threshold crossings', () => {
  it.each([0, 1, 30, 365, 10.333333333333334, 47.61904761904762, 0.1, 1e-9, 123.456789])('age %s days', (days) => {
    const strict = instantAgeExceeds(BASE, days);
    expect(ageDays(BASE, strict)).toBeGreaterThan(days);
    expect(ageDays(BASE, new Date(strict.getTime() - 1))).toBeLessThanOrEqual(days);
    const inclusive = instantAgeReaches(BASE, days);
    expect(ageDays(BASE, inclusive)).toBeGreaterThanOrEqual(days);
    expect(ageDays(BASE, new Date(inclusive.getTime() - 1))).toBeLessThan(days);
  });
});

describe('isWithinDays', () => {
  it.each([
    [-1, false], // in the future
    [0, true],
    [90 * 86_400_000 - 1, true],
    [90 * 86_400_000, false],
  ])('age %s ms → %s', (ageMs, expected) => {
    expect(isWithinDays(BASE, new Date(BASE.getTime() + ageMs), 90)).toBe(expected);
  });
});

describe('parseTimestamp', () => {
  it.each<[unknown, number | null]>([
    ['2024-01-01T00:00:00Z', Date.UTC(2024, 0, 1)],
    ['2024-01-01t02:00:00.5+02:00', Date.UTC(2024, 0, 1, 0, 0, 0, 500)],
    ['2024-01-01T00:00:00', null],
    ['2024-01-01', null],
    ['yesterday', null],
    [1704067200000, null],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['2026-02-29T00:00:00Z', null],
    ['2026-02-30T00:00:00Z', null],
    ['2026-04-31T00:00:00Z', null],
    ['2026-13-01T00:00:00Z', null],
    ['2026-01-01T24:00:00Z', null],
    ['2026-01-01T00:60:00Z', null],
    ['2026-01-01T00:00:00+24:00', null],
    ['0000-01-01T00:00:00Z', null],
    ['0001-01-01T00:00:00Z', Date.parse('0001-01-01T00:00:00Z')],
    ['9999-12-31T23:59:59Z', Date.parse('9999-12-31T23:59:59Z')],
    ['9999-12-31T23:59:59-01:00', null],
  ])('%s', (input, expected) => {
    expect(parseTimestamp(input)).toBe(expected);
  });
});

describe('isoInstant: what toISOString gives', () => {
  it.each([
    0, 1, 999, 86_399_999, 951_782_400_000 /* 2000-02-29 */, 4_107_542_400_000 /* 2100-03-01 */, -1, -62_135_596_800_000,
    253_402_300_799_999, 253_402_300_800_000, 8.64e15,
  ])('%i', (ms) => expect(isoInstant(new Date(ms))).toBe(new Date(ms).toISOString()));

  it('over random instants from 1970 to 9999', () => {
    let seed = 3;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor(next() * next() * 253_402_300_800_000);
      expect(isoInstant(new Date(ms))).toBe(new Date(ms).toISOString());
    }
  });
});
