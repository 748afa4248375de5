import { Worker, type Job, type Processor } from 'bullmq';
import type { Deps } from '../deps.ts';
import { processIngest } from './ingest.worker.ts';
import { processRecompute } from './recompute.worker.ts';
import { processMaintenance, scheduleMaintenance } from './maintenance.ts';
import type { JobPayloads, QueueName } from './queues.ts';

export interface Workers {
  close(): Promise<void>;
}

/** Starts one BullMQ worker per queue in this process and (re)declares the job schedulers. */
export async function startWorkers(deps: Deps): Promise<Workers> {
  const { config, logger } = deps;
  const make = <N extends QueueName>(name: N, concurrency: number, processor: (job: Job<JobPayloads[N]>) => Promise<unknown>) => {
    const worker = new Worker<JobPayloads[N]>(name, processor as Processor<JobPayloads[N]>, {
      connection: deps.workerConnection,
      prefix: config.QUEUE_PREFIX,
      concurrency,
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.JOB_LOCK_MS,
      maxStalledCount: 10,
    });
    worker.on('error', (err) => logger.error({ err, queue: name }, 'worker error'));
    worker.on('failed', (job, err) =>
      logger.warn({ err, queue: name, jobId: job?.id, attempts: job?.attemptsMade }, 'job failed'),
    );
    return worker;
  };
  const workers = [
    make('ingest', config.INGEST_CONCURRENCY, (job) => processIngest(deps, job)),
    make('recompute', config.RECOMPUTE_CONCURRENCY, (job) => processRecompute(deps, job)),
    make('maintenance', 1, (job) => processMaintenance(deps, job)),
  ];
  await scheduleMaintenance(deps);
  logger.info({ queues: workers.map((w) => w.name) }, 'workers started');
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
