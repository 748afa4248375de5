import { parsePolicy } from '../domain/policy/policy.ts';
import { countCustomers, everyCustomer, idRange, nextCustomerIds, readStoredCustomers } from '../store/customers.state.repo.ts';
import { validationError } from './errors.ts';
import { loadRecomputeContext, planBatch, type RecomputeDeps } from './recompute.service.ts';
import type { Progress } from './rescore.service.ts';

const CHUNK = 1_000;

export interface PolicyPreview {
  customers: number;
  changed: number;
  moves: { from: string | null; to: string | null; customers: number }[];
}

/** The candidate policy, or a 400 naming what is wrong with it. */
export function parsePolicyOrThrow(document: unknown) {
  const parsed = parsePolicy(document);
  if (!parsed.ok) throw validationError(parsed.errors, 'The tier policy is invalid; see errors.');
  return parsed.policy;
}

/**
 * Derives every customer under a candidate policy, read-only, and counts tier-to-tier moves. It
 * reads customers in id-ordered batches with their stored digests, as a rescore does, and derives
 * them with the same deriveBatch; nothing is written.
 */
export async function previewPolicy(deps: Pick<RecomputeDeps, 'db' | 'metrics' | 'clock'>, document: unknown, onProgress?: Progress): Promise<PolicyPreview> {
  const policy = parsePolicyOrThrow(document);
  const now = deps.clock.now();
  const context = { ...(await loadRecomputeContext(deps, now)), now, policy, policySince: null };
  const total = await countCustomers(deps.db, everyCustomer());
  const moves = new Map<string, PolicyPreview['moves'][number]>();
  let customers = 0;
  let changed = 0;
  let after = '';
  for (;;) {
    const ids = await nextCustomerIds(deps.db, everyCustomer(), after, CHUNK);
    if (ids.length === 0) break;
    const rows = await readStoredCustomers(deps.db, idRange(everyCustomer(), after, ids.at(-1)!));
    after = ids.at(-1)!;
    const plans = await planBatch(deps, deps.db, rows, context);
    // planBatch keeps the order of the rows it is given.
    for (let i = 0; i < plans.length; i++) {
      const from = rows[i]!.tier;
      const to = plans[i]!.derived.tier;
      const key = JSON.stringify([from, to]);
      const move = moves.get(key) ?? { from, to, customers: 0 };
      move.customers += 1;
      moves.set(key, move);
      customers += 1;
      if (from !== to) changed += 1;
    }
    await onProgress?.(Math.min(1, customers / Math.max(total, 1)));
    if (ids.length < CHUNK) break;
  }
  return { customers, changed, moves: [...moves.values()].sort((a, b) => b.customers - a.customers) };
}
