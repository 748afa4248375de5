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
  // Amounts as stored (at most MONEY_SCALE decimals) are summed exactly as integers of 1/10,000:
  // a derivation sums every order's net value, and one Decimal per term was most of its cost.
  let scaled = 0n;
  const rest: Decimal.Value[] = [];
  for (const value of values) {
    const units = typeof value === 'string' ? scaledUnits(value) : null;
    if (units === null) rest.push(value);
    else scaled += units;
  }
  let total = new Money(unitsString(scaled));
  for (const value of rest) total = total.plus(new Money(value));
  return total;
}

const PLAIN_AMOUNT = /^(-?)(\d{1,30})(?:\.(\d{1,4}))?$/;
const UNIT = 10_000n;

/** A plain decimal string of at most 4 decimals as an integer count of 1/10,000; null for any other form. */
function scaledUnits(value: string): bigint | null {
  const m = PLAIN_AMOUNT.exec(value);
  if (!m) return null;
  const units = BigInt(m[2]!) * UNIT + BigInt((m[3] ?? '').padEnd(4, '0'));
  return m[1] ? -units : units;
}

function unitsString(units: bigint): string {
  const abs = units < 0n ? -units : units;
  const fraction = (abs % UNIT).toString().padStart(4, '0').replace(/0+$/, '');
  return `${units < 0n ? '-' : ''}${abs / UNIT}${fraction ? `.${fraction}` : ''}`;
}

// Plain decimal literal as accepted in rule values: no exponent, no thousands separators.
export function isDecimalString(value: string): boolean {
  return /^-?\d+(\.\d+)?$/.test(value);
}

/**
 * Amounts in events: at most this many digits before the point and MONEY_SCALE after, so one
 * amount always fits the numeric(20, 4) money columns (src/store/schema.ts) as sent.
 */
export const MONEY_INTEGER_DIGITS = 15;
export const MONEY_SCALE = 4;

/**
 * A JSON number is a binary double by the time anything reads it: every decimal of up to 15
 * significant digits survives that unchanged, longer ones may not (123456789012345.1234 arrives
 * as 123456789012345.12). Amounts with more digits must be sent as strings.
 */
export const MAX_EXACT_NUMBER_DIGITS = 15;

/** Significant digits of a plain decimal string ("0.0120" → 2, "1200" → 2): leading and trailing zeros do not count. */
export function significantDigits(decimal: string): number {
  return decimal.replace(/^[-+]/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
}

/** Whether a JSON number is within what a double holds exactly; one that is not was rounded on its way in (MAX_EXACT_NUMBER_DIGITS). */
export function isExactNumber(value: number): boolean {
  return Number.isFinite(value) && !/e/i.test(String(value)) && significantDigits(String(value)) <= MAX_EXACT_NUMBER_DIGITS;
}

/** Digits before the point the stored money columns hold: numeric(28, 4) (src/store/schema.ts). */
export const MONEY_COLUMN_INTEGER_DIGITS = 24;

/** Whether a derived amount (a total, a prediction) fits the money columns without overflow. */
export function fitsMoneyColumn(value: Decimal): boolean {
  return value.isFinite() && value.abs().lt(new Money(10).pow(MONEY_COLUMN_INTEGER_DIGITS));
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
