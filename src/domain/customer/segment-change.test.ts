import { describe, expect, it } from 'vitest';
import { segmentChangedAt, type ChangeContext } from './customer-state.changes.ts';

const t = (iso: string) => new Date(iso);
const NOW = t('2026-06-10T12:00:00.000Z');
const previous = (computedAt: string, nextReviewAt: string | null): ChangeContext['previous'] => ({
  tier: 'regular',
  lifecycle_stage: 'active',
  at_risk: false,
  pending_since: null,
  next_review_at: nextReviewAt ? t(nextReviewAt) : null,
  computed_at: t(computedAt),
});

describe('segmentChangedAt', () => {
  it.each([
    {
      why: 'a first computation with no other change: now',
      previous: null,
      changes: [],
      expected: NOW,
    },
    {
      why: 'new data, nothing else changed: now',
      previous: previous('2026-06-01T00:00:00.000Z', '2026-07-01T00:00:00.000Z'),
      changes: [],
      expected: NOW,
    },
    {
      why: 'a review fell due and only membership changed (a time threshold in the rule): the due instant',
      previous: previous('2026-06-01T00:00:00.000Z', '2026-06-05T00:00:00.000Z'),
      changes: [],
      expected: t('2026-06-05T00:00:00.000Z'),
    },
    {
      why: 'with an at-risk change dated earlier: that instant, as membership follows the state',
      previous: previous('2026-06-01T00:00:00.000Z', '2026-06-05T00:00:00.000Z'),
      changes: [{ changed_at: t('2026-06-04T23:59:59.999Z') }],
      expected: t('2026-06-04T23:59:59.999Z'),
    },
    {
      why: 'with several changes: the latest of them',
      previous: previous('2026-06-01T00:00:00.000Z', null),
      changes: [{ changed_at: t('2026-06-02T00:00:00.000Z') }, { changed_at: t('2026-06-08T00:00:00.000Z') }, { changed_at: t('2026-06-03T00:00:00.000Z') }],
      expected: t('2026-06-08T00:00:00.000Z'),
    },
    {
      why: 'never before the previous computation',
      previous: previous('2026-06-09T00:00:00.000Z', null),
      changes: [{ changed_at: t('2026-06-02T00:00:00.000Z') }],
      expected: t('2026-06-09T00:00:00.000Z'),
    },
    {
      why: 'never after now',
      previous: previous('2026-06-01T00:00:00.000Z', null),
      changes: [{ changed_at: t('2026-06-11T00:00:00.000Z') }],
      expected: NOW,
    },
    {
      why: 'a review not yet due does not count: now',
      previous: previous('2026-06-01T00:00:00.000Z', '2026-06-20T00:00:00.000Z'),
      changes: [],
      expected: NOW,
    },
  ])('$why', ({ previous, changes, expected }) => {
    expect(segmentChangedAt({ previous, now: NOW }, changes).toISOString()).toBe(expected.toISOString());
  });
});
