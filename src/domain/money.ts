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

/**
 * The exact sum as a money string, moneyString(sumMoney(values)): while every amount is plain with
 * at most 4 decimals and the total stays a safe integer of 1/10,000, without a Decimal or a BigInt
 * (every derivation sums its recent orders for revenue_365d).
 */
export function sumMoneyString(values: readonly string[]): string {
  let total = 0;
  for (const value of values) {
    const units = smallUnits(value);
    const next = units === null ? NaN : total + units;
    // Both terms are safe integers: a sum within the safe range is exact, and one beyond it never rounds back into it.
    if (!Number.isSafeInteger(next)) return moneyString(sumMoney(values));
    total = next;
  }
  return smallUnitsString(total);
}

/**
 * `total / count` rounded half-up to MONEY_SCALE decimals, as a money string: what
 * moneyString(money(total).div(count).toDecimalPlaces(4, ROUND_HALF_UP)) gives (40 significant
 * digits leave the fifth decimal of such a quotient exact), in safe integers where they hold it.
 */
export function divideMoney(total: string, count: number): string {
  const units = smallUnits(total);
  if (units !== null && Number.isSafeInteger(count) && count > 0 && count <= 1_000_000) {
    // |units| < 10^15 and count ≤ 10^6, so every step below is an exact integer: half-up is
    // floor((2|units| + count) / 2count), away from zero for a negative total as Decimal rounds.
    const n = 2 * Math.abs(units) + count;
    const d = 2 * count;
    const quotient = (n - (n % d)) / d;
    return smallUnitsString(units < 0 ? -quotient : quotient);
  }
  return moneyString(new Money(total).div(count).toDecimalPlaces(MONEY_SCALE, Decimal.ROUND_HALF_UP));
}

/**
 * Compares two amounts exactly, as money(a).cmp(b) does (-1, 0, 1): plain decimal strings, and
 * numbers as their shortest decimal (what a Decimal is made from), digit by digit; any other form
 * through a Decimal. Scores and classes compare every customer's revenue this way.
 */
export function compareMoney(a: string, b: string | number): number {
  return comparePlain(a, typeof b === 'number' ? String(b) : b) ?? new Money(a).cmp(b);
}

const PLAIN_AMOUNT = /^(-?)(\d{1,30})(?:\.(\d{1,4}))?$/;
const UNIT = 10_000n;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const MINUS = 45;
const POINT = 46;

/** A plain decimal string of at most 4 decimals as an integer count of 1/10,000; null for any other form. */
function scaledUnits(value: string): bigint | null {
  const m = PLAIN_AMOUNT.exec(value);
  if (!m) return null;
  const units = BigInt(m[2]!) * UNIT + BigInt((m[3] ?? '').padEnd(4, '0'));
  return m[1] ? -units : units;
}

/** scaledUnits as a number, for amounts of at most 11 digits before the point (below 10^15 units); null for any other. */
function smallUnits(value: string): number | null {
  let i = value.charCodeAt(0) === MINUS ? 1 : 0;
  const intStart = i;
  let units = 0;
  for (; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < DIGIT_0 || c > DIGIT_9) break;
    units = units * 10 + (c - DIGIT_0);
  }
  if (i === intStart || i - intStart > 11) return null;
  let decimals = 0;
  if (i < value.length) {
    if (value.charCodeAt(i) !== POINT) return null;
    for (i++; i < value.length; i++, decimals++) {
      const c = value.charCodeAt(i);
      if (c < DIGIT_0 || c > DIGIT_9 || decimals === 4) return null;
      units = units * 10 + (c - DIGIT_0);
    }
    if (decimals === 0) return null;
  }
  for (; decimals < 4; decimals++) units *= 10;
  return intStart === 1 ? -units : units;
}

function unitsString(units: bigint): string {
  const abs = units < 0n ? -units : units;
  const fraction = (abs % UNIT).toString().padStart(4, '0').replace(/0+$/, '');
  return `${units < 0n ? '-' : ''}${abs / UNIT}${fraction ? `.${fraction}` : ''}`;
}

/** unitsString of a safe integer (a zero is "0", never "-0"). */
function smallUnitsString(units: number): string {
  const abs = Math.abs(units);
  const fraction = abs % 10_000;
  const whole = (abs - fraction) / 10_000;
  if (abs === 0) return '0';
  const sign = units < 0 ? '-' : '';
  return fraction === 0 ? `${sign}${whole}` : `${sign}${whole}.${String(fraction).padStart(4, '0').replace(/0+$/, '')}`;
}

/** Where a plain decimal string's parts are: [sign, first significant integer digit, end of the integer digits, end of the fraction without trailing zeros, zero 1 | 0]. */
type PlainParts = [number, number, number, number, number];
const partsA: PlainParts = [0, 0, 0, 0, 0];
const partsB: PlainParts = [0, 0, 0, 0, 0];

/** The order of two plain decimal strings (`-?digits(.digits)?`, any length) without allocating; null when either has another form. */
function comparePlain(a: string, b: string): number | null {
  const x = plainParts(a, partsA);
  const y = plainParts(b, partsB);
  if (!x || !y) return null;
  const signA = x[4] ? 0 : x[0];
  const signB = y[4] ? 0 : y[0];
  if (signA !== signB) return signA < signB ? -1 : 1;
  return signA === 0 ? 0 : signA * compareMagnitude(a, x, b, y);
}

function plainParts(s: string, out: PlainParts): PlainParts | null {
  const negative = s.charCodeAt(0) === MINUS;
  const start = negative ? 1 : 0;
  let i = start;
  while (i < s.length && s.charCodeAt(i) >= DIGIT_0 && s.charCodeAt(i) <= DIGIT_9) i++;
  if (i === start) return null;
  const intEnd = i;
  let fracEnd = intEnd;
  if (i < s.length) {
    if (s.charCodeAt(i) !== POINT) return null;
    const fracStart = ++i;
    while (i < s.length && s.charCodeAt(i) >= DIGIT_0 && s.charCodeAt(i) <= DIGIT_9) i++;
    if (i !== s.length || i === fracStart) return null;
    fracEnd = i;
    while (fracEnd > fracStart && s.charCodeAt(fracEnd - 1) === DIGIT_0) fracEnd--;
    if (fracEnd === fracStart) fracEnd = intEnd;
  }
  let intStart = start;
  while (intStart < intEnd && s.charCodeAt(intStart) === DIGIT_0) intStart++;
  out[0] = negative ? -1 : 1;
  out[1] = intStart;
  out[2] = intEnd;
  out[3] = fracEnd;
  out[4] = intStart === intEnd && fracEnd === intEnd ? 1 : 0;
  return out;
}

function compareMagnitude(a: string, x: PlainParts, b: string, y: PlainParts): number {
  const intA = x[2] - x[1];
  const intB = y[2] - y[1];
  if (intA !== intB) return intA < intB ? -1 : 1;
  for (let k = 0; k < intA; k++) {
    const d = a.charCodeAt(x[1] + k) - b.charCodeAt(y[1] + k);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  // The fraction digits after the point (none when its end is the integer's end); missing ones are 0.
  const fracA = x[3] === x[2] ? 0 : x[3] - x[2] - 1;
  const fracB = y[3] === y[2] ? 0 : y[3] - y[2] - 1;
  for (let k = 0; k < fracA || k < fracB; k++) {
    const da = k < fracA ? a.charCodeAt(x[2] + 1 + k) : DIGIT_0;
    const db = k < fracB ? b.charCodeAt(y[2] + 1 + k) : DIGIT_0;
    if (da !== db) return da < db ? -1 : 1;
  }
  return 0;
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
