import { DateTime } from 'luxon';

const UK = 'Europe/London';
const LOCAL = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/;
const CACHE_LIMIT = 50_000;

/**
 * Reads `YYYY-MM-DD HH:MM[:SS]` as UK local time (GMT in winter, BST in summer) and returns the
 * UTC instant, or null when the text is not such a time or names no real date.
 *
 * Luxon (the IANA rules through Intl) gives the offset of each local hour, cached, because asking
 * it for every row would cost more than the rest of the import. UK clocks only ever change on the
 * hour, so every minute of a local hour has that hour's offset. Luxon's rules for the two odd hours
 * apply: a time in the hour skipped when BST starts is read an hour later (01:30 → 02:30 BST), and
 * a time in the hour repeated when BST ends is read as GMT, the later of its two instants.
 */
export function createUkTimeReader(): (text: string) => Date | null {
  const offsets = new Map<string, number | null>();
  return (text) => {
    const m = LOCAL.exec(text);
    if (!m) return null;
    const [, y, mo, d, h, mi, s = '00'] = m as unknown as [string, string, string, string, string, string, string | undefined];
    const minute = Number(mi);
    const second = Number(s);
    if (minute > 59 || second > 59) return null;
    const hourKey = text.slice(0, 13);
    let offset = offsets.get(hourKey);
    if (offset === undefined) {
      if (offsets.size >= CACHE_LIMIT) offsets.clear();
      offset = hourOffset(Number(y), Number(mo), Number(d), Number(h));
      offsets.set(hourKey, offset);
    }
    if (offset === null) return null;
    return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), minute, second) - offset);
  };
}

/** Milliseconds the UK is ahead of UTC at the start of this local hour, or null for no such hour. */
function hourOffset(year: number, month: number, day: number, hour: number): number | null {
  if (hour > 23) return null;
  const local = DateTime.fromObject({ year, month, day, hour }, { zone: UK });
  if (!local.isValid) return null;
  return Date.UTC(year, month - 1, day, hour) - local.toMillis();
}
