import { describe, expect, it } from 'vitest';
import { createLineLedger, extraLines } from './import.lines.ts';
import { importEventId, readHeader } from './import.types.ts';

describe('line ledger', () => {
  it('finds no gap when records follow each other, across quoted newlines', () => {
    const ledger = createLineLedger();
    expect(ledger.record(1, 0)).toBeUndefined();
    expect(ledger.record(3, 1)).toBeUndefined(); // lines 2-3
    expect(ledger.record(4, 0)).toBeUndefined();
    expect(ledger.finish(4)).toBeUndefined();
  });

  it('reports the lines a quoting error swallowed, with the error, then resumes', () => {
    // csv-parse on `h\n1\n9,"bad"q\n11\n"u\n14`: errors noticed on lines 3 and 5, next record on line 6.
    const ledger = createLineLedger();
    ledger.record(1, 0);
    ledger.record(2, 0);
    ledger.noteError(3, 'Invalid Closing Quote at line 3');
    ledger.noteError(5, 'Invalid Closing Quote at line 5');
    expect(ledger.record(6, 0)).toEqual({ from: 3, to: 5, message: 'Invalid Closing Quote at line 3; Invalid Closing Quote at line 5' });
    expect(ledger.finish(6)).toBeUndefined();
  });

  it('blames an error noticed on the next record\'s line on the gap before it', () => {
    const ledger = createLineLedger();
    ledger.record(1, 0);
    ledger.noteError(3, 'bad quote');
    expect(ledger.record(3, 0)).toEqual({ from: 2, to: 2, message: 'bad quote' });
  });

  it('reports an unclosed quote running to the end of the file', () => {
    const ledger = createLineLedger();
    ledger.record(1, 0);
    ledger.record(2, 0);
    ledger.noteError(3, 'Quote Not Closed');
    expect(ledger.finish(5)).toEqual({ from: 3, to: 5, message: 'Quote Not Closed' });
  });

  it('drops an error inside what became a record', () => {
    const ledger = createLineLedger();
    ledger.noteError(1, 'noise');
    ledger.record(2, 1);
    expect(ledger.finish(2)).toBeUndefined();
  });

  it.each<[string[], number]>([
    [['a', 'b'], 0],
    [['a\nb', 'c\nd\ne'], 3],
    [['\n'], 1],
    [['x\r\ny'], 2], // csv-parse counts \r and \n apart
  ])('extra lines of %j: %i', (cells, n) => expect(extraLines(cells)).toBe(n));
});

describe('import event ids', () => {
  it.each<[string, string, string]>([
    ['17850', '536365', 'import:17850:536365'],
    ['a:b', 'c', 'import:a%3Ab:c'],
    ['a', 'b:c', 'import:a:b:c'],
    ['50%', 'x', 'import:50%25:x'],
  ])('(%s, %s) → %s', (customer, order, id) => expect(importEventId(customer, order)).toBe(id));

  it('never gives two pairs one id, and hashes ids too long to store', () => {
    expect(importEventId('a:b', 'c')).not.toBe(importEventId('a', 'b:c'));
    const long = importEventId('c'.repeat(100), 'o'.repeat(100));
    expect(long).toMatch(/^import#[0-9a-f]{64}$/);
    expect(long).toBe(importEventId('c'.repeat(100), 'o'.repeat(100)));
    expect(long).not.toBe(importEventId('c'.repeat(101), 'o'.repeat(99)));
  });
});

describe('headers', () => {
  const columns = { required: ['a', 'b'] as const, optional: ['c'] as const };
  it.each<[string[], boolean, string | null]>([
    [['a', 'b'], true, null],
    [[' b ', 'a', 'c'], true, null],
    [['a'], true, 'the header lacks the required column(s) b (it has: a)'],
    [['a', 'b', 'x'], true, 'unknown column(s) x; the columns are a, b, c'],
    [['a', 'b', 'x'], false, null],
    [['a', 'b', 'a'], true, 'column a appears twice in the header'],
  ])('%j (strict %s)', (cells, strict, error) => {
    const result = readHeader(cells, { ...columns, strict });
    expect(result.ok ? null : result.message).toBe(error);
  });
});
