import type { Job } from 'bullmq';
import type { Deps } from '../deps.ts';
import type { JobPayloads } from '../queues/queues.ts';
import { storeEvents } from '../services/ingest.service.ts';

/** Stores one accepted request's events (storeEvents). */
export const processIngest = (deps: Deps, job: Job<JobPayloads['ingest']>) => storeEvents(deps, job.data);
