import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import type { JobPayloads } from './queues.ts';

export async function processRecompute(deps: Deps, job: Job<JobPayloads['recompute']>): Promise<void> {
  deps.logger.debug({ customerId: job.data.customerId }, 'recompute requested');
}
