import { Worker, type Job, type Processor } from 'bullmq';
import pLimit from 'p-limit';
import type { Deps } from '../deps.ts';
import { processIngest } from './ingest.worker.ts';
import { processRecompute } from './recompute.worker.ts';
import { RECOMPUTE_SHARDS } from '../queues/recompute.dirty.ts';
import { processMaintenance } from './maintenance.worker.ts';
import { declareSchedules } from '../queues/schedules.ts';
import { relayOnce } from '../services/relay.service.ts';
import { createDeliverer } from '../services/delivery.service.ts';
import { cappedBackoff, QUEUE_NAMES, type JobPayloads, type QueueName } from '../queues/queues.ts';

export interface Workers {
  close(): Promise<void>;
}

/**
 * Starts one BullMQ worker for each of `queues` in this process (default: every queue) and
 * (re)declares the job schedulers of those queues. Ingest and recompute may run in separate
 * processes (WORKER_QUEUES), so storing events never waits for a drain's event loop or memory.
 */
export async function startWorkers(apiDeps: Deps, queues: readonly QueueName[] = QUEUE_NAMES): Promise<Workers> {
  // Jobs use the worker pool, so they never wait for connections held by API requests (or the reverse).
  const deps: Deps = { ...apiDeps, pool: apiDeps.workerPool, db: apiDeps.workerDb };
  const { config, logger } = deps;
  const make = <N extends QueueName>(name: N, concurrency: number, processor: (job: Job<JobPayloads[N]>) => Promise<unknown>) => {
    const worker = new Worker<JobPayloads[N]>(name, processor as Processor<JobPayloads[N]>, {
      connection: deps.workerConnection,
      prefix: config.QUEUE_PREFIX,
      concurrency,
      lockDuration: config.JOB_LOCK_MS,
      stalledInterval: config.JOB_LOCK_MS,
      maxStalledCount: 10,
      settings: { backoffStrategy: cappedBackoff },
    });
    worker.on('error', (err) => logger.error({ err, queue: name }, 'worker error'));
    worker.on('failed', (job, err) =>
      logger.warn({ err, queue: name, jobId: job?.id, attempts: job?.attemptsMade }, 'job failed'),
    );
    return worker;
  };
  // The drains of every shard run at once (so a customer never waits for another shard's time
  // slice), but only this many hold a batch's event histories in memory at a time.
  const recomputeBatches = pLimit(config.RECOMPUTE_CONCURRENCY);
  const deliverer = createDeliverer(deps);
  const starters: { [N in QueueName]: () => Worker<JobPayloads[N]> } = {
    ingest: () => make('ingest', config.INGEST_CONCURRENCY, (job) => processIngest(deps, job)),
    // One drain per shard runs at once; RECOMPUTE_CONCURRENCY bounds the batches among them.
    recompute: () => make('recompute', RECOMPUTE_SHARDS, (job) => processRecompute(deps, job, recomputeBatches, { yieldToIngest: queues.includes('ingest') })),
    maintenance: () => make('maintenance', 1, (job) => processMaintenance(deps, job)),
    relay: () => make('relay', 1, () => relayOnce(deps)),
    webhooks: () => make('webhooks', config.WEBHOOK_CONCURRENCY, (job) => deliverer.deliver(job.data.deliveryId)),
  };
  const workers = QUEUE_NAMES.filter((name) => queues.includes(name)).map((name) => starters[name]());
  await declareSchedules(deps.queues, queues, {
    relayEveryMs: config.WEBHOOK_RELAY_INTERVAL_MS,
    sweepEveryMs: config.SWEEP_INTERVAL_MS,
    rescoreCron: config.STATS_REFRESH_CRON,
    modelFitCron: config.MODEL_FIT_CRON,
  });
  logger.info({ queues: workers.map((w) => w.name) }, 'workers started');
  return {
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await deliverer.close();
    },
  };
}
