import type { Deps } from '../deps.ts';
import { fitModel } from '../domain/model/predictions.ts';
import { insertFit, loadFitInput, type StoredFit } from '../store/model.repo.ts';
import { MAX_FUTURE_MS } from '../domain/events/field-problem.ts';
import { validationError } from './errors.ts';
import { startJob } from './jobs.service.ts';

/**
 * Fits BG/NBD and Gamma-Gamma on every buyer's orders up to `asOf` and records the attempt. A refused
 * fit (too few buyers, no convergence) is recorded with its reason and leaves the previous fit in
 * force; so does a successful one that is not activated (status `evaluated`: a backtest on an
 * earlier as_of must not rescore today's customers).
 */
export async function runModelFit(deps: Pick<Deps, 'db' | 'clock' | 'logger'>, asOf: Date, options: { activate: boolean } = { activate: true }): Promise<StoredFit> {
  const started = performance.now();
  const attemptedAt = deps.clock.now();
  const input = await deps.db.transaction((tx) => loadFitInput(tx, asOf), { isolationLevel: 'repeatable read', accessMode: 'read only' });
  const result = fitModel(input.rows, input.spend);
  const durationMs = Math.round(performance.now() - started);
  const fit = await insertFit(deps.db, {
    attemptedAt,
    asOf,
    status: result.ok ? (options.activate ? 'fitted' : 'evaluated') : 'refused',
    reason: result.ok ? null : result.reason,
    customers: result.customers,
    params: result.ok ? result.params : null,
    durationMs,
  });
  deps.logger.info({ fitId: fit.id, status: fit.status, reason: fit.reason, customers: fit.customers, rows: input.rows.length, durationMs }, 'model fit');
  return fit;
}

/** Whether a fit_model job activates its fit: as asked, else only a fit on every order up to now. */
export const activatesFit = (job: { as_of: string | null; activate?: boolean }) => job.activate ?? job.as_of === null;

/** A fit attempt as jobs and GET /v1/model report it: evaluated is a fit that is not in force. */
export const fitOutcome = (fit: StoredFit) => ({
  status: fit.status === 'refused' ? ('refused' as const) : ('fitted' as const),
  activated: fit.status === 'fitted',
});

/** Queues a model fit on the orders up to `asOf` (null: every order when the job runs); an as_of in the future is a 400. */
export async function startModelFit(deps: Pick<Deps, 'queues' | 'clock'>, request: { asOf: Date | null; activate?: boolean | undefined }): Promise<string> {
  const { asOf, activate } = request;
  if (asOf && asOf.getTime() > deps.clock.now().getTime() + MAX_FUTURE_MS) {
    throw validationError([{ path: 'as_of', message: 'must not be in the future' }], 'as_of lies in the future.');
  }
  return startJob(deps, { kind: 'fit_model', as_of: asOf?.toISOString() ?? null, ...(activate !== undefined ? { activate } : {}), reason: 'requested' });
}
