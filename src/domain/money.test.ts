import { describe, expect, it } from 'vitest';
import { formatMoney, minorUnitDigits } from './money.ts';

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
