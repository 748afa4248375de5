import type { Deps } from '../deps.ts';
import { fitModel } from '../domain/predictions.ts';
import { insertFit, loadFitInput, type StoredFit } from '../store/model.repo.ts';

/**
 * Fits BG/NBD and Gamma-Gamma on every buyer's orders up to `asOf` and records the attempt. A refused
 * fit (too few buyers, no convergence) is recorded with its reason and leaves the previous fit in force.
 */
export async function runModelFit(deps: Deps, asOf: Date): Promise<StoredFit> {
  const started = performance.now();
  const attemptedAt = deps.clock.now();
  const input = await deps.db.transaction((tx) => loadFitInput(tx, asOf), { isolationLevel: 'repeatable read', accessMode: 'read only' });
  const result = fitModel(input.rows, input.spend);
  const durationMs = Math.round(performance.now() - started);
  const fit = await insertFit(deps.db, {
    attemptedAt,
    asOf,
    status: result.ok ? 'fitted' : 'refused',
    reason: result.ok ? null : result.reason,
    customers: result.customers,
    params: result.ok ? result.params : null,
    durationMs,
  });
  deps.logger.info({ fitId: fit.id, status: fit.status, reason: fit.reason, customers: fit.customers, rows: input.rows.length, durationMs }, 'model fit');
  return fit;
}
