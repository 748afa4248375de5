import { Worker, type Job, type Processor } from 'bullmq';
import type { Deps } from '../deps.ts';
import { processIngest } from './ingest.worker.ts';
import { processRecompute } from './recompute.worker.ts';
import { processMaintenance, scheduleMaintenance } from './maintenance.ts';
import { relayOnce } from '../webhooks/relay.ts';
import { processDelivery } from '../webhooks/delivery.worker.ts';
import { createGuardedDispatcher } from '../webhooks/ssrf.ts';
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
  const dispatcher = createGuardedDispatcher({ allowPrivate: config.WEBHOOK_ALLOW_PRIVATE_TARGETS });
  const workers = [
    make('ingest', config.INGEST_CONCURRENCY, (job) => processIngest(deps, job)),
    make('recompute', config.RECOMPUTE_CONCURRENCY, (job) => processRecompute(deps, job)),
    make('maintenance', 1, (job) => processMaintenance(deps, job)),
    make('relay', 1, () => relayOnce(deps)),
    make('webhooks', config.WEBHOOK_CONCURRENCY, (job) => processDelivery(deps, dispatcher, job)),
  ];
  await scheduleMaintenance(deps);
  logger.info({ queues: workers.map((w) => w.name) }, 'workers started');
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await dispatcher.close();
    },
  };
}
