import { describe, expect, it } from 'vitest';
import { storableTextProblem, unstorableStrings } from './text.ts';

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

describe('unstorableStrings', () => {
  it('finds values and keys at any depth with their paths', () => {
    expect(unstorableStrings({ name: 'ok', rule: { all: [{ field: 'x', value: 'a\u0000' }], 'k\ud800': 1 }, n: 3 })).toEqual([
      { path: ['rule', 'all', 0, 'value'], message: 'must not contain the NUL character (U+0000)' },
      { path: ['rule', 'k\ud800'], message: 'key must not contain a lone UTF-16 surrogate (U+D800–U+DFFF)' },
    ]);
    expect(unstorableStrings([1, true, null, 'fine'])).toEqual([]);
  });
});
