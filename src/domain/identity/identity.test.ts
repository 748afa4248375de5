import { describe, expect, it } from 'vitest';
import { chooseSurvivor, decideMerge, normaliseEmail } from './identity.ts';

describe('decideMerge', () => {
  const decide = (customerId: string, previousId: string, survivors: Record<string, string> = {}) =>
    decideMerge({ customerId, previousId, survivorOfCustomer: survivors[customerId] ?? customerId, survivorOfPrevious: survivors[previousId] ?? previousId });

  it('merges the profile previous_id belongs to into the one customer_id belongs to', () => {
    expect(decide('b', 'a')).toEqual({ outcome: 'merge', survivor: 'b', merged: 'a' });
    // a was merged into b earlier: b (a's survivor) goes into c.
    expect(decide('c', 'a', { a: 'b' })).toEqual({ outcome: 'merge', survivor: 'c', merged: 'b' });
    // x was merged into c: a merge into x goes to c.
    expect(decide('x', 'd', { x: 'c' })).toEqual({ outcome: 'merge', survivor: 'c', merged: 'd' });
  });

  it('refuses a self-merge and a cycle, and does nothing for ids already in one profile', () => {
    expect(decide('a', 'a')).toEqual({ outcome: 'refused', reason: 'self_merge' });
    expect(decide('a', 'c', { a: 'c', b: 'c' })).toEqual({ outcome: 'refused', reason: 'cycle' });
    expect(decide('b', 'c', { a: 'c', b: 'c' })).toEqual({ outcome: 'refused', reason: 'cycle' });
    expect(decide('c', 'a', { a: 'c' })).toEqual({ outcome: 'already_merged', survivor: 'c' });
  });
});

describe('chooseSurvivor', () => {
  const at = (iso: string) => new Date(iso);
  it('prefers a known id to an anonymous one, whatever their first events', () => {
    expect(chooseSurvivor([{ id: 'anon:1', firstEventAt: at('2020-01-01T00:00:00Z') }, { id: 'u', firstEventAt: at('2026-01-01T00:00:00Z') }]).id).toBe('u');
  });
  it('between two of a kind, the earlier first event, then the smaller id, in any order', () => {
    const early = { id: 'zed', firstEventAt: at('2024-01-01T00:00:00Z') };
    const late = { id: 'amy', firstEventAt: at('2025-01-01T00:00:00Z') };
    const none = { id: 'aaa', firstEventAt: null };
    expect(chooseSurvivor([late, early, none]).id).toBe('zed');
    expect(chooseSurvivor([none, early, late]).id).toBe('zed');
    const tie = { id: 'bob', firstEventAt: early.firstEventAt };
    expect(chooseSurvivor([early, tie]).id).toBe('bob');
    expect(chooseSurvivor([tie, early]).id).toBe('bob');
  });
});

describe('normaliseEmail', () => {
  it('trims and lower-cases, and refuses what is not an address', () => {
    expect(normaliseEmail('  Ann@Example.COM ')).toBe('ann@example.com');
    expect(normaliseEmail('not an email')).toBeNull();
    expect(normaliseEmail(42)).toBeNull();
  });
});
