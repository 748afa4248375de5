import { Decimal } from 'decimal.js';

// Convention: money crosses every module boundary as a plain decimal string produced by
// Decimal#toString() on this constructor ("123.45", "0", never "1e-7", no trailing zeros), so it
// is exact, JSON-safe and accepted as is by Postgres numeric. Inside, we compute with this clone:
// 40 significant digits means sums of realistic amounts never round, and the exponent limits keep
// toString() in plain notation. It is a clone so the global Decimal settings stay untouched.
export const Money = Decimal.clone({
  precision: 40,
  rounding: Decimal.ROUND_HALF_UP,
  toExpNeg: -40,
  toExpPos: 40,
});

export const ZERO = new Money(0);

export function money(value: Decimal.Value): Decimal {
  return new Money(value);
}

export function moneyString(value: Decimal.Value): string {
  return new Money(value).toString();
}

export function sumMoney(values: Iterable<Decimal.Value>): Decimal {
  let total = ZERO;
  for (const value of values) total = total.plus(new Money(value));
  return total;
}

// Plain decimal literal as accepted in rule values: no exponent, no thousands separators.
export function isDecimalString(value: string): boolean {
  return /^-?\d+(\.\d+)?$/.test(value);
}
