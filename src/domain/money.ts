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

const minorDigitsCache = new Map<string, number>();

/**
 * The digits of a currency's minor unit (ISO 4217): USD and EUR 2, JPY 0, KWD 3, as the runtime's
 * ICU data knows them.
 */
export function minorUnitDigits(currency: string): number {
  let digits = minorDigitsCache.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    minorDigitsCache.set(currency, digits);
  }
  return digits;
}

/**
 * Money as the API shows it: a plain decimal string with at least `minorDigits` decimals, and more
 * only where the value has more that are not zero ("129.9" → "129.90", "220.5000" → "220.50",
 * "0.125" stays, "-3" → "-3.00" for USD; "1300.00" → "1300" for JPY). Exact: it never rounds.
 */
export function formatMoney(value: Decimal.Value, minorDigits: number): string {
  const exact = new Money(value);
  return exact.toFixed(Math.max(minorDigits, exact.decimalPlaces()));
}
