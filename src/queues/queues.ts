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
  /** delete outbox messages past WEBHOOK_RETENTION_DAYS */
  | { kind: 'purge_outbox' }
  /** refresh the population statistics, then rescore every customer (changedOnly: those whose judgments change) */
  | { kind: 'rescore'; reason: string; changedOnly?: boolean }
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

/**
 * Retries wait twice as long each time, up to a minute, with a tenth of jitter so workers that
 * failed together (a database restart) do not retry together. BullMQ's built-in exponential backoff
 * has no ceiling: after an hour-long outage a job would wait about an hour more before its next try.
 */
export const CAPPED_BACKOFF = 'capped';
const BACKOFF_CEILING_MS = 60_000;

export function cappedBackoff(attemptsMade: number, type?: string, _err?: Error, job?: { opts: JobsOptions }): number {
  if (type !== CAPPED_BACKOFF) throw new Error(`unknown backoff strategy ${type}`);
  const options = job?.opts.backoff;
  const base = typeof options === 'object' && options.delay ? options.delay : 1_000;
  const delay = Math.min(base * 2 ** Math.max(0, attemptsMade - 1), BACKOFF_CEILING_MS);
  return Math.round(delay * (0.9 + Math.random() * 0.1));
}

/**
 * Defaults per queue. Ingest and recompute retry for about 16 hours (1,000 tries, a minute apart
 * once backed off), since giving up on either loses data; a maintenance job (a requested rescore,
 * a model fit) outlasts a 25-minute outage of Postgres or Redis.
 */
export const jobDefaults: { [N in QueueName]: JobsOptions } = {
  // A completed ingest job's events are in Postgres; kept, its payload (up to ~170 kB) would only fill Redis.
  ingest: { ...keepJobs, removeOnComplete: true, attempts: 1_000, backoff: { type: CAPPED_BACKOFF, delay: 1_000 } },
  recompute: { ...keepJobs, removeOnComplete: true, attempts: 1_000, backoff: { type: CAPPED_BACKOFF, delay: 1_000 } },
  maintenance: { ...keepJobs, attempts: 30, backoff: { type: CAPPED_BACKOFF, delay: 5_000 } },
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
