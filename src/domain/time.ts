export const DAY_MS = 86_400_000;

// Fractional days between two instants; every "*_days" metric is measured this way, and the
// crossing helpers below use the same float expression so reviews land on the exact ms.
export function ageDays(from: Date, now: Date): number {
  return (now.getTime() - from.getTime()) / DAY_MS;
}

export function addDays(at: Date, days: number): Date {
  return new Date(at.getTime() + Math.round(days * DAY_MS));
}

// "In the last N days" means an age strictly below N days: the event leaves the window at exactly
// occurredAt + N days, which is then also the instant a review is due.
export function isWithinDays(at: Date, now: Date, days: number): boolean {
  const age = now.getTime() - at.getTime();
  return age >= 0 && age < days * DAY_MS;
}

// First whole-ms instant at which ageDays(base, t) > days (strict thresholds).
export function instantAgeExceeds(base: Date, days: number): Date {
  return new Date(firstInstantMs(base.getTime(), days, true));
}

// First whole-ms instant at which ageDays(base, t) >= days (inclusive thresholds).
export function instantAgeReaches(base: Date, days: number): Date {
  return new Date(firstInstantMs(base.getTime(), days, false));
}

/** instantAgeExceeds (`strict`) or instantAgeReaches as epoch ms, for callers that compare instants as numbers. */
export function firstInstantMs(start: number, days: number, strict: boolean): number {
  // days * DAY_MS can be off by a rounding step for fractional breakpoints, so nudge until the
  // exact predicate used by the metrics flips between t - 1 and t (bounded: the error is tiny).
  let t = start + Math.ceil(days * DAY_MS);
  for (let i = 0; i < 4 && !ageHolds(t - start, days, strict); i++) t++;
  for (let i = 0; i < 4 && ageHolds(t - 1 - start, days, strict); i++) t--;
  return t;
}

function ageHolds(ageMs: number, days: number, strict: boolean): boolean {
  return strict ? ageMs / DAY_MS > days : ageMs / DAY_MS >= days;
}

/**
 * `at.toISOString()` ("2026-05-17T08:30:00.000Z"), formatted from the epoch ms by arithmetic for
 * years 1970 to 9999 (every stored row has several instants, and the native call costs several
 * times as much); other instants by toISOString itself.
 */
export function isoInstant(at: Date): string {
  const ms = at.getTime();
  if (!(ms >= 0 && ms <= MAX_INSTANT_MS)) return at.toISOString();
  const days = Math.floor(ms / DAY_MS);
  const t = ms - days * DAY_MS;
  // The proleptic Gregorian date of a day number (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(t / 3_600_000);
  const minute = Math.floor(t / 60_000) % 60;
  const second = Math.floor(t / 1000) % 60;
  const milli = t % 1000;
  return `${year}-${two(month)}-${two(day)}T${two(hour)}:${two(minute)}:${two(second)}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

// Deterministic event order everywhere: occurredAt, then id.
export function byTimeThenId(a: { occurredAt: Date; id: string }, b: { occurredAt: Date; id: string }): number {
  const dt = a.occurredAt.getTime() - b.occurredAt.getTime();
  if (dt !== 0) return dt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function minDate(dates: Iterable<Date | null | undefined>): Date | null {
  let best: Date | null = null;
  for (const d of dates) if (d && (!best || d.getTime() < best.getTime())) best = d;
  return best;
}

export function maxDate(dates: Iterable<Date | null | undefined>): Date | null {
  let best: Date | null = null;
  for (const d of dates) if (d && (!best || d.getTime() > best.getTime())) best = d;
  return best;
}

// Rule values and API timestamps: RFC 3339 with a mandatory offset.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;

/** The instants a Postgres timestamptz and a Date both hold without surprise: years 0001 to 9999 (UTC). */
export const MIN_INSTANT_MS = Date.parse('0001-01-01T00:00:00Z');
export const MAX_INSTANT_MS = Date.parse('9999-12-31T23:59:59.999Z');

export const isStorableInstant = (ms: number) => Number.isFinite(ms) && ms >= MIN_INSTANT_MS && ms <= MAX_INSTANT_MS;

function daysInMonth(year: number, month: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, 0);
  return d.getUTCDate();
}

/**
 * Milliseconds of an RFC 3339 timestamp with an offset, or null: also for a day the calendar
 * does not have (`2026-02-30`, which Date.parse rolls over to March) and for instants outside
 * years 0001 to 9999 (Postgres has no year 0).
 */
export function parseTimestamp(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const upper = value.toUpperCase();
  const m = RFC3339.exec(upper);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const offsetOk = m[8] === 'Z' || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59 || !offsetOk) return null;
  const ms = Date.parse(upper);
  return isStorableInstant(ms) ? ms : null;
}
