import { z } from 'zod';
import { parseTimestamp } from '../domain/time.ts';

/**
 * An RFC 3339 instant the service can store: a day the calendar has (`2026-02-30` is refused,
 * not rolled over) in years 0001 to 9999. `offset` allows offsets other than `Z`.
 */
export const instantString = (options: { offset?: boolean } = {}) =>
  z.iso
    .datetime({ offset: options.offset ?? false })
    .refine((v) => parseTimestamp(v) !== null, 'must be a real date and time between the years 0001 and 9999');

/** A Postgres timestamptz as text (`2026-01-01 10:00:00.5+00`, `-infinity`): a sort key in a cursor. */
export function isPgTimestampText(value: string): boolean {
  if (value === '-infinity') return true;
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?)([+-]\d{2})(?::?(\d{2}))?$/.exec(value);
  return m !== null && parseTimestamp(`${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}`) !== null;
}

/** numeric(20,4) as Postgres prints it: a money sort key in a cursor. */
export const isMoneyText = (value: string) => /^-?\d{1,16}(\.\d{1,4})?$/.test(value);
