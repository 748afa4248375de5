import { randomUUID } from 'node:crypto';
import type { Deps } from '../deps.ts';
import type { MaintenanceJob } from '../queues/queues.ts';

/**
 * Queues a background job (rescore, segment membership, model fit, policy preview) under a fresh
 * id the caller polls with GET /v1/jobs/{id}. The job's name is its kind: one kind per piece of work.
 */
export async function startJob(deps: Pick<Deps, 'queues'>, job: MaintenanceJob): Promise<string> {
  const added = await deps.queues.maintenance.add(job.kind, job, { jobId: `job_${randomUUID()}` });
  return added.id!;
}

/** Statistics refresh and full rescore, as PUT /v1/tier-policy, POST /v1/rescore and the schedule ask for it. */
export const startRescore = (deps: Pick<Deps, 'queues'>, reason: string) => startJob(deps, { kind: 'rescore', reason });

/** A job and its state, or undefined; the state is read first, so a job seen as completed always carries its result. */
export async function findJob(deps: Pick<Deps, 'queues'>, id: string) {
  const state = await deps.queues.maintenance.getJobState(id);
  const job = state === 'unknown' ? undefined : await deps.queues.maintenance.getJob(id);
  return job ? { job, state } : undefined;
}
