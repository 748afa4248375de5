import { describe, expect, it } from 'vitest';
import { ageDays } from '../src/domain/time.ts';
import { leastMsAbove } from '../src/store/customers.state.repo.ts';

// The daily refresh's selection compares the last order with an instant per recency breakpoint;
// it must agree with the domain's `ageDays(last, now) > p` at every whole ms.
describe('leastMsAbove: the recency breakpoint as an age in whole ms', () => {
  const now = new Date('2026-12-03T12:00:00.000Z');
  it.each([0, 1, 1.4940397546296298, 41.04671068518525, 365.25, -0.3, 1e-9, 0.1 + 0.2, 12345.678901234])('%d days', (p) => {
    const ms = leastMsAbove(p);
    expect(ageDays(new Date(now.getTime() - ms), now) > p).toBe(true);
    expect(ageDays(new Date(now.getTime() - ms + 1), now) > p).toBe(false);
  });
});
