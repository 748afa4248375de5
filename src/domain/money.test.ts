import { describe, expect, it } from 'vitest';
import { fitsMoneyColumn, formatMoney, isExactNumber, minorUnitDigits, money, significantDigits } from './money.ts';

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

describe('minorUnitDigits', () => {
  it.each([
    ['USD', 2],
    ['EUR', 2],
    ['GBP', 2],
    ['JPY', 0],
    ['KRW', 0],
    ['KWD', 3],
    ['BHD', 3],
  ])('%s has %i', (currency, digits) => {
    expect(minorUnitDigits(currency)).toBe(digits);
  });
});

describe('formatMoney', () => {
  it.each([
    ['129.9', 2, '129.90'],
    ['129.90', 2, '129.90'],
    ['220.5000', 2, '220.50'],
    ['0', 2, '0.00'],
    ['0.0000', 2, '0.00'],
    ['0.125', 2, '0.125'],
    ['0.1250', 2, '0.125'],
    ['12.3456', 2, '12.3456'],
    ['-3', 2, '-3.00'],
    ['-0.5', 2, '-0.50'],
    ['1000000000000.01', 2, '1000000000000.01'],
    ['1e-7', 2, '0.0000001'],
    ['1300.00', 0, '1300'],
    ['1300.5', 0, '1300.5'],
    ['7.1', 3, '7.100'],
  ])('%s with %i minor digits is %s', (value, digits, expected) => {
    expect(formatMoney(value, digits)).toBe(expected);
  });
});
