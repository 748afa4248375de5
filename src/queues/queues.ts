import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { markDirty } from './recompute.dirty.ts';
import type { IngestEvent } from '../domain/events/events.types.ts';

/** Every queue and the payload of its jobs: the one registry producers and workers share. */
export interface JobPayloads {
  ingest: { receivedAt: string; events: IngestEvent[] };
  /** Drains one shard of the customers waiting for a recompute (recompute.dirty.ts). */
  recompute: { shard: number };
  maintenance: MaintenanceJob;
  /** Moves outbox messages to deliveries and claims due deliveries. */
  relay: Record<string, never>;
  /** One delivery attempt; the job id is the delivery id plus the attempt number. */
  webhooks: { deliveryId: string };
}

export type MaintenanceJob =
  | { kind: 'sweep' }
  /** refresh the population statistics, then rescore every customer */
  | { kind: 'rescore'; reason: string }
  | { kind: 'segment_membership'; segment: string }
  /** fit the prediction model on orders up to as_of (null: when the job runs), then rescore everyone */
  /** activate: whether a successful fit becomes the model in force (absent: only when as_of is null) */
  | { kind: 'fit_model'; as_of: string | null; activate?: boolean; reason: string }
  /** count the tier moves a candidate policy document would make, changing nothing */
  | { kind: 'preview_policy'; policy: unknown };

export type QueueName = keyof JobPayloads;

export type Queues = { [N in QueueName]: Queue<JobPayloads[N], unknown, string> };

const keepJobs: JobsOptions = {
  removeOnComplete: { age: 7 * 86_400, count: 10_000 },
  removeOnFail: { age: 30 * 86_400 },
};

/** Defaults per queue: ingest and recompute retry for a long time, since losing either loses data. */
export const jobDefaults: { [N in QueueName]: JobsOptions } = {
  // A completed ingest job's events are in Postgres; kept, its payload (up to ~170 kB) would only fill Redis.
  ingest: { ...keepJobs, removeOnComplete: true, attempts: 50, backoff: { type: 'exponential', delay: 1_000 } },
  recompute: { ...keepJobs, removeOnComplete: true, attempts: 50, backoff: { type: 'exponential', delay: 1_000 } },
  maintenance: { ...keepJobs, attempts: 3, backoff: { type: 'exponential', delay: 5_000 } },
  relay: { removeOnComplete: true, removeOnFail: { count: 100 }, attempts: 1 },
  // Webhook retries follow their own schedule in Postgres, not BullMQ backoff.
  webhooks: { removeOnComplete: { age: 3_600 }, removeOnFail: { age: 86_400 }, attempts: 1 },
};

/** Every queue (a worker process serves all of them unless told otherwise: WORKER_QUEUES). */
export const QUEUE_NAMES = Object.keys(jobDefaults) as QueueName[];

export function createQueues(connection: ConnectionOptions, prefix: string): Queues {
  const make = <N extends QueueName>(name: N) =>
    new Queue<JobPayloads[N], unknown, string>(name, { connection, prefix, defaultJobOptions: jobDefaults[name] });
  return {
    ingest: make('ingest'),
    recompute: make('recompute'),
    maintenance: make('maintenance'),
    relay: make('relay'),
    webhooks: make('webhooks'),
  };
}

/** Where recompute requests go: the Redis holding the waiting customers, its key prefix and the queue. */
export interface RecomputeTarget {
  redis: Redis;
  config: { QUEUE_PREFIX: string };
  queues: Pick<Queues, 'recompute'>;
}

/**
 * Marks customers as waiting for a recompute, then asks for a drain of each shard they fell in.
 * Per shard at most one drain runs and one waits; a drain recomputes up to a batch of waiting
 * customers per transaction, and a customer asked for many times waits only once, so 1,000
 * queued events cost a handful of recomputes.
 */
export async function enqueueRecomputes(target: RecomputeTarget, customerIds: Iterable<string>): Promise<void> {
  const shards = await markDirty(target.redis, target.config.QUEUE_PREFIX, customerIds);
  await requestDrains(target.queues.recompute, shards);
}

/** A drain per shard; while one runs, later requests collapse into a single waiting one. */
export async function requestDrains(queue: Queues['recompute'], shards: number[]): Promise<void> {
  if (shards.length === 0) return;
  await queue.addBulk(
    shards.map((shard) => ({
      name: 'drain',
      data: { shard },
      opts: { deduplication: { id: `drain-${shard}`, keepLastIfActive: true } },
    })),
  );
}

/** Asks for a relay pass soon; at most one runs and one waits at any time. */
export function nudgeRelay(queue: Queues['relay']): Promise<unknown> {
  return queue.add('relay', {}, { deduplication: { id: 'relay', keepLastIfActive: true } });
}
