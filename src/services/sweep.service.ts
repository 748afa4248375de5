import type { Deps } from '../deps.ts';
import { enqueueRecomputes } from '../queues/queues.ts';
import { dueForReview } from '../store/customers.state.repo.ts';

const SWEEP_PAGE = 1_000;

/**
 * Asks for a recompute of every customer whose `next_review_at` has passed. It walks the partial
 * index on `next_review_at`, so its cost follows the customers due, not the customer count.
 */
export async function sweepDueReviews(deps: Pick<Deps, 'db' | 'redis' | 'config' | 'queues' | 'metrics' | 'clock'>): Promise<{ due: number }> {
  const now = deps.clock.now();
  let due = 0;
  let after: { at: Date; id: string } | undefined;
  let oldest: Date | undefined;
  for (;;) {
    const page = await dueForReview(deps.db, now, after, SWEEP_PAGE);
    if (page.length === 0) break;
    oldest ??= page[0]!.at;
    await enqueueRecomputes(deps, page.map((p) => p.id));
    due += page.length;
    after = page.at(-1)!;
    if (page.length < SWEEP_PAGE) break;
  }
  deps.metrics.sweepLag.set(oldest ? (now.getTime() - oldest.getTime()) / 1000 : 0);
  return { due };
}
