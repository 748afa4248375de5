import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { createUkTimeReader } from './import.uk-time.ts';

describe('UK local time → UTC', () => {
  const read = createUkTimeReader();
  // BST 2011 ran from 01:00 UTC on 27 March to 01:00 UTC on 30 October; 2024 from 31 March to 27 October.
  it.each<[string, string | null]>([
    ['2010-12-01 08:26:00', '2010-12-01T08:26:00.000Z'], // winter: GMT, UTC+0
    ['2011-06-15 12:00:00', '2011-06-15T11:00:00.000Z'], // summer: BST, UTC+1
    ['2011-03-27 00:59:59', '2011-03-27T00:59:59.000Z'], // the last GMT second before BST
    ['2011-03-27 01:30:00', '2011-03-27T01:30:00.000Z'], // skipped by the clocks: read as 02:30 BST
    ['2011-03-27 02:00:00', '2011-03-27T01:00:00.000Z'], // the first BST minute
    ['2011-03-27 10:16:00', '2011-03-27T09:16:00.000Z'], // in the Online Retail file
    ['2011-10-30 00:59:59', '2011-10-29T23:59:59.000Z'], // still BST
    ['2011-10-30 01:30:00', '2011-10-30T01:30:00.000Z'], // repeated by the clocks: read as GMT
    ['2011-10-30 02:00:00', '2011-10-30T02:00:00.000Z'], // GMT again
    ['2024-03-31 03:00:00', '2024-03-31T02:00:00.000Z'],
    ['2024-10-27 03:00:00', '2024-10-27T03:00:00.000Z'],
    ['2011-12-09 12:50', '2011-12-09T12:50:00.000Z'], // seconds are optional
    ['2011-02-29 10:00:00', null], // no such day
    ['2011-01-01 24:00:00', null],
    ['2011-01-01 10:60:00', null],
    ['12/1/2010 8:26', null],
    ['2011-01-01T10:00:00Z', null], // an instant is not a local time
    ['', null],
  ])('%s → %s', (local, utc) => {
    expect(read(local)?.toISOString() ?? null).toBe(utc);
  });

  it('agrees with Luxon minute by minute across both 2011 clock changes', () => {
    for (const day of ['2011-03-26', '2011-03-27', '2011-03-28', '2011-10-29', '2011-10-30', '2011-10-31']) {
      for (let minute = 0; minute < 24 * 60; minute += 7) {
        const text = `${day} ${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}:30`;
        const expected = DateTime.fromFormat(text, 'yyyy-MM-dd HH:mm:ss', { zone: 'Europe/London' }).toUTC().toISO();
        expect(read(text)?.toISOString(), text).toBe(expected);
      }
    }
  });
});
