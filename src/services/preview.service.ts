import { asc, gt } from 'drizzle-orm';
import type { Deps } from '../deps.ts';
import { digestEvents } from '../domain/facts/digest.ts';
import type { TierPolicy } from '../domain/policy/policy.ts';
import { loadCustomerEvents, toStoredEvent } from '../store/events.repo.ts';
import { currentFit } from '../store/model.repo.ts';
import { customers } from '../store/schema.ts';
import { derive, ensurePopulationStats, groupByCustomer } from './recompute.service.ts';

const CHUNK = 1_000;

/** Derives every customer under a candidate policy, read-only, and counts tier-to-tier moves. */
export async function previewPolicy(deps: Deps, policy: TierPolicy) {
  const now = deps.clock.now();
  const stats = await ensurePopulationStats(deps, now);
  const stored = await currentFit(deps.db);
  const fit = stored?.params ? { params: stored.params, fittedAt: stored.attemptedAt } : null;
  const moves = new Map<string, { from: string | null; to: string | null; customers: number }>();
  let total = 0;
  let changed = 0;
  let after = '';
  for (;;) {
    const rows = await deps.db.select().from(customers).where(gt(customers.id, after)).orderBy(asc(customers.id)).limit(CHUNK);
    if (rows.length === 0) break;
    const events = groupByCustomer((await loadCustomerEvents(deps.db, rows.map((r) => r.id))).map(toStoredEvent));
    for (const row of rows) {
      const to = derive(row, digestEvents(events.get(row.id) ?? [], now), now, policy, stats, undefined, null, fit).tier;
      const key = JSON.stringify([row.tier, to]);
      const move = moves.get(key) ?? { from: row.tier, to, customers: 0 };
      move.customers += 1;
      moves.set(key, move);
      total += 1;
      if (row.tier !== to) changed += 1;
    }
    after = rows.at(-1)!.id;
  }
  return { customers: total, changed, moves: [...moves.values()].sort((a, b) => b.customers - a.customers) };
}
