import { describe, expect, it } from 'vitest';
import { isStorableText, MAX_JSON_DEPTH, nestsDeeperThan, storableTextProblem, unstorableStrings } from './text.ts';

describe('storableTextProblem', () => {
  it.each([
    ['plain', null],
    ['', null],
    ['emoji 😀 is a valid pair', null],
    ['中文', null],
    ['c\u0000x', 'must not contain the NUL character (U+0000)'],
    ['a\ud800b', 'must not contain a lone UTF-16 surrogate (U+D800–U+DFFF)'],
    ['trail \udc00', 'must not contain a lone UTF-16 surrogate (U+D800–U+DFFF)'],
    ['reversed \ude00\ud83d', 'must not contain a lone UTF-16 surrogate (U+D800–U+DFFF)'],
  ])('%j → %j', (value, expected) => {
    expect(storableTextProblem(value)).toBe(expected);
  });
});

describe('isStorableText', () => {
  it.each<[string, boolean]>([
    ['plain', true],
    ['', true],
    ['emoji 😀 (a surrogate pair)', true],
    ['c\u0000x', false],
    ['a\ud800b', false],
    ['trailing high \ud83d', false],
    ['\ude00 leading low', false],
    ['reversed pair \ude00\ud83d', false],
  ])('%j → %s', (s, expected) => expect(isStorableText(s)).toBe(expected));
});

describe('unstorableStrings', () => {
  it('finds values and keys at any depth with their paths', () => {
    expect(unstorableStrings({ name: 'ok', rule: { all: [{ field: 'x', value: 'a\u0000' }], 'k\ud800': 1 }, n: 3 })).toEqual([
      { path: ['rule', 'all', 0, 'value'], message: 'must not contain the NUL character (U+0000)' },
      { path: ['rule', 'k\ud800'], message: 'key must not contain a lone UTF-16 surrogate (U+D800–U+DFFF)' },
    ]);
    expect(unstorableStrings([1, true, null, 'fine'])).toEqual([]);
  });

  it('reports a value nested deeper than MAX_JSON_DEPTH at its path instead of walking it', () => {
    const deep = JSON.parse(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`) as unknown;
    const found = unstorableStrings(deep);
    expect(found).toEqual([{ path: ['a', ...Array.from({ length: MAX_JSON_DEPTH - 1 }, () => 0)], message: `is nested more than ${MAX_JSON_DEPTH} levels deep` }]);
    const fits = JSON.parse(`${'['.repeat(MAX_JSON_DEPTH)}"a\\u0000"${']'.repeat(MAX_JSON_DEPTH)}`) as unknown;
    expect(unstorableStrings(fits)).toEqual([{ path: Array.from({ length: MAX_JSON_DEPTH }, () => 0), message: 'must not contain the NUL character (U+0000)' }]);
  });
});

describe('nestsDeeperThan', () => {
  it('counts levels of arrays and objects, not scalars', () => {
    const levels = (n: number) => JSON.parse(`${'{"a":['.repeat(n / 2)}"x"${']}'.repeat(n / 2)}`) as unknown;
    expect(nestsDeeperThan(levels(MAX_JSON_DEPTH))).toBe(false);
    expect(nestsDeeperThan(levels(MAX_JSON_DEPTH + 2))).toBe(true);
    expect(nestsDeeperThan(levels(200_000))).toBe(true);
    expect(nestsDeeperThan('x'.repeat(10))).toBe(false);
    expect(nestsDeeperThan([[1]], 1)).toBe(true);
  });
});
