import { describe, expect, it } from 'vitest';
import { Decimal } from 'decimal.js';
import { Money, compareMoney, divideMoney, fitsMoneyColumn, formatMoney, isExactNumber, minorUnitDigits, money, moneyString, significantDigits, sumMoney, sumMoneyString } from './money.ts';

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

describe('sumMoney: exact, as one Decimal addition per term would give', () => {
  const byDecimal = (values: (string | number)[]) => values.reduce<InstanceType<typeof Money>>((total, v) => total.plus(new Money(v)), new Money(0)).toString();

  it.each<[string, (string | number)[], string]>([
    ['nothing', [], '0'],
    ['trailing zeros dropped', ['1.10', '2.2000'], '3.3'],
    ['negative and positive', ['-5.25', '2.0001', '3'], '-0.2499'],
    ['a negative total', ['-0.0001'], '-0.0001'],
    ['to zero', ['12.5', '-12.5'], '0'],
    ['negative zero', ['-0'], '0'],
    ['beyond a double', ['999999999999999.9999', '0.0001'], '1000000000000000'],
    ['more decimals than amounts carry', ['0.00001', '1'], '1.00001'],
    ['numbers and exponents', [0.5, '1e2', '2'], '102.5'],
  ])('%s', (_, values, expected) => {
    expect(sumMoney(values).toString()).toBe(expected);
    expect(byDecimal(values)).toBe(expected);
  });

  it('matches Decimal addition over random amounts', () => {
    let seed = 7;
    const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
    for (let round = 0; round < 200; round++) {
      const values = Array.from({ length: next() % 12 }, () => {
        const digits = String(next() % 10 ** (next() % 9));
        const fraction = String(next() % 10_000).padStart(4, '0').slice(0, next() % 5);
        return `${next() % 4 === 0 ? '-' : ''}${digits}${fraction ? `.${fraction}` : ''}`;
      });
      expect(sumMoney(values).toString()).toBe(byDecimal(values));
    }
  });
});

describe('sumMoneyString, divideMoney and compareMoney: what the Decimal forms give', () => {
  let seed = 11;
  const next = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31);
  const amount = () => {
    const digits = String(next() % 10 ** (next() % 16));
    const fraction = String(next() % 1_000_000).padStart(6, '0').slice(0, next() % 7);
    return `${next() % 5 === 0 ? '-' : ''}${next() % 9 === 0 ? '0' : ''}${digits}${fraction ? `.${fraction}` : ''}`;
  };

  it.each<[string[], string]>([
    [[], '0'],
    [['-0'], '0'],
    [['1.10', '2.2000'], '3.3'],
    [['-5.25', '2.0001', '3'], '-0.2499'],
    [['99999999999.9999', '0.0001'], '100000000000'],
    [['999999999999999.9999', '0.0001'], '1000000000000000'],
    [['0.00001', '1'], '1.00001'],
    [['1e2', '2'], '102'],
  ])('sums %j to %s', (values, expected) => expect(sumMoneyString(values)).toBe(expected));

  it.each<[string, number, string]>([
    ['10', 3, '3.3333'],
    ['20', 3, '6.6667'],
    ['0.0001', 2, '0.0001'],
    ['0.0001', 3, '0'],
    ['-0.0001', 2, '-0.0001'],
    ['1234.5678', 1, '1234.5678'],
    ['99999999999.9999', 7, '14285714285.7143'],
    ['123456789012345.1234', 9, '13717421001371.6804'],
    ['1.00001', 2, '0.5'],
  ])('divides %s by %i to %s', (total, count, expected) => expect(divideMoney(total, count)).toBe(expected));

  it.each<[string, string | number, number]>([
    ['10', '10.000', 0],
    ['-0', '0.0', 0],
    ['0.5', 0.49, 1],
    ['-0.5', '-0.49', -1],
    ['007.10', '7.1', 0],
    ['100', 1e21, -1],
    ['0', 1e-7, -1],
    ['12.3456789', 12.3456788, 1],
  ])('compares %s with %s as %i', (a, b, expected) => expect(compareMoney(a, b)).toBe(expected));

  it('match Decimal over random amounts', () => {
    for (let round = 0; round < 2000; round++) {
      const values = Array.from({ length: next() % 6 }, amount);
      expect(sumMoneyString(values)).toBe(moneyString(sumMoney(values)));
      const total = amount();
      const count = 1 + (next() % (round % 2 === 0 ? 7 : 5000));
      expect(divideMoney(total, count)).toBe(moneyString(money(total).div(count).toDecimalPlaces(4, Decimal.ROUND_HALF_UP)));
      const [a, b] = [amount(), round % 3 === 0 ? total : amount()];
      expect(compareMoney(a, b)).toBe(money(a).cmp(b));
      const n = Number(b);
      expect(compareMoney(a, n)).toBe(money(a).cmp(n));
    }
  });
});
