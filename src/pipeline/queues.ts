import { Queue, type ConnectionOptions, type JobsOptions } from 'bullmq';

/** Every queue and the payload of its jobs: the one registry producers and workers share. */
export interface JobPayloads {
  ingest: { receivedAt: string; events: IngestEvent[] };
  recompute: { customerId: string };
  maintenance: MaintenanceJob;
  /** Moves outbox messages to deliveries and claims due deliveries. */
  relay: Record<string, never>;
  /** One delivery attempt; the job id is the delivery id plus the attempt number. */
  webhooks: { deliveryId: string };
}

export type MaintenanceJob =
  | { kind: 'sweep' }
  | { kind: 'refresh_stats'; rescore: boolean; reason: string }
  | { kind: 'segment_membership'; segment: string }
  /** fit the prediction model on orders up to as_of (null: when the job runs), then rescore everyone */
  /** activate: whether a successful fit becomes the model in force (absent: only when as_of is null) */
  | { kind: 'fit_model'; as_of: string | null; activate?: boolean; reason: string };

export type QueueName = keyof JobPayloads;

/** An event as validated and skew-corrected by the API, ready to store. */
export interface IngestEvent {
  id: string;
  type: string;
  customer_id: string;
  occurred_at: string;
  order_id: string | null;
  data: Record<string, unknown>;
  properties: Record<string, unknown> | null;
}

export type Queues = { [N in QueueName]: Queue<JobPayloads[N], unknown, string> };

const keepJobs: JobsOptions = {
  removeOnComplete: { age: 7 * 86_400, count: 10_000 },
  removeOnFail: { age: 30 * 86_400 },
};

/** Defaults per queue: ingest and recompute retry for a long time, since losing either loses data. */
export const jobDefaults: { [N in QueueName]: JobsOptions } = {
  ingest: { ...keepJobs, attempts: 50, backoff: { type: 'exponential', delay: 1_000 } },
  recompute: { ...keepJobs, removeOnComplete: true, attempts: 50, backoff: { type: 'exponential', delay: 1_000 } },
  maintenance: { ...keepJobs, attempts: 3, backoff: { type: 'exponential', delay: 5_000 } },
  relay: { removeOnComplete: true, removeOnFail: { count: 100 }, attempts: 1 },
  // Webhook retries follow their own schedule in Postgres, not BullMQ backoff.
  webhooks: { removeOnComplete: { age: 3_600 }, removeOnFail: { age: 86_400 }, attempts: 1 },
};

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

/**
 * One recompute job per customer at a time: while one runs, later requests collapse into a
 * single waiting job, so 1,000 queued events cost a handful of recomputes.
 */
export function enqueueRecomputes(queue: Queues['recompute'], customerIds: Iterable<string>): Promise<unknown> {
  const jobs = [...new Set(customerIds)].map((customerId) => ({
    name: 'recompute',
    data: { customerId },
    opts: { deduplication: { id: customerId, keepLastIfActive: true } },
  }));
  return jobs.length === 0 ? Promise.resolve() : queue.addBulk(jobs);
}

/** Asks for a relay pass soon; at most one runs and one waits at any time. */
export function nudgeRelay(queue: Queues['relay']): Promise<unknown> {
  return queue.add('relay', {}, { deduplication: { id: 'relay', keepLastIfActive: true } });
}
