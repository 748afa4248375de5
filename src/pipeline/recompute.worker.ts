import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import type { JobPayloads } from './queues.ts';
import { recomputeCustomers, type RecomputeResult } from './recompute.ts';

export function processRecompute(deps: Deps, job: Job<JobPayloads['recompute']>): Promise<RecomputeResult> {
  return recomputeCustomers(deps, [job.data.customerId]);
}
