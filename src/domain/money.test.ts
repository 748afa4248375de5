import { describe, expect, it } from 'vitest';
import { fitsMoneyColumn, isExactNumber, money, significantDigits } from './money.ts';

describe('significantDigits', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['1200', 2],
    ['0.0120', 2],
    ['123456789012345.12', 17],
    ['-10.5', 3],
  ])('%s → %i', (s, n) => expect(significantDigits(s)).toBe(n));
});

describe('isExactNumber: a JSON number a double holds as written', () => {
  it.each<[number, boolean]>([
    [10.5, true],
    [99999999999.9999, true],
    [999999999999999, true],
    [123456789012345.1234, false], // arrives as 123456789012345.12
    [0.30000000000000004, false],
    [12345678901234567, false],
    [1e21, false],
    [Number.NaN, false],
    [Number.POSITIVE_INFINITY, false],
  ])('%s → %s', (n, expected) => expect(isExactNumber(n)).toBe(expected));
});

describe('fitsMoneyColumn: numeric(28, 4)', () => {
  it.each<[string, boolean]>([
    ['10999999999999999.9989', true],
    ['999999999999999999999999.9999', true],
    ['1000000000000000000000000', false],
    ['-1000000000000000000000000', false],
  ])('%s → %s', (s, expected) => expect(fitsMoneyColumn(money(s))).toBe(expected));
});
