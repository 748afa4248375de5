import { z } from 'zod';
import { QUEUE_NAMES, type QueueName } from './queues/queues.ts';

const bool = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

const positiveInt = z.coerce.number().int().positive();

/** `all`, or queue names separated by commas: the queues a `tierwise worker` process serves. */
export const queueList = z
  .string()
  .transform((v) => (v.trim() === 'all' ? [...QUEUE_NAMES] : [...new Set(v.split(',').map((s) => s.trim()))]))
  .refine((names) => names.length > 0 && names.every((n) => QUEUE_NAMES.includes(n as QueueName)), {
    message: `must be "all" or a comma-separated list of ${QUEUE_NAMES.join(', ')}`,
  })
  .transform((names) => names as QueueName[]);

/** Traits whose equal values merge profiles (docs/architecture.md, "Identity"): empty (the default) or `email`. */
export const MERGE_TRAITS = ['email'] as const;
const mergeTraitList = z
  .string()
  .transform((v) => [...new Set(v.split(',').map((s) => s.trim()).filter((s) => s !== ''))])
  .refine((names) => names.every((n) => MERGE_TRAITS.includes(n as (typeof MERGE_TRAITS)[number])), {
    message: `must be empty or a comma-separated list of ${MERGE_TRAITS.join(', ')}`,
  })
  .transform((names) => names as (typeof MERGE_TRAITS)[number][]);

/** The one schema over the process environment (README, Configuration). */
export const configSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Where `tierwise worker` serves /metrics and /healthz (on HOST); 0: not at all. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default('postgres://postgres@127.0.0.1:5432/tierwise'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  // A hash tag ({tierwise}) keeps every key of the deployment in one Redis Cluster slot (docs/scaling.md).
  QUEUE_PREFIX: z
    .string()
    .regex(/^(?:[A-Za-z0-9_.:-]{1,64}|\{[A-Za-z0-9_.:-]{1,62}\})$/, 'letters, digits and _ . : -, optionally wrapped in one {hash tag}')
    .default('tierwise'),
  TIERWISE_ADMIN_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD').default('USD'),
  WEBHOOK_ALLOW_PRIVATE_TARGETS: bool.default(false),
  SWEEP_INTERVAL_MS: positiveInt.default(60_000),
  /** Cron pattern (UTC) of the population statistics refresh and full rescore; default daily at 03:00. */
  STATS_REFRESH_CRON: z.string().regex(/^(\S+\s+){4,5}\S+$/, 'must be a cron pattern such as "0 3 * * *"').default('0 3 * * *'),
  /** Cron pattern (UTC) of the prediction model fit (then a full rescore); default daily at 04:00. */
  MODEL_FIT_CRON: z.string().regex(/^(\S+\s+){4,5}\S+$/, 'must be a cron pattern such as "0 4 * * *"').default('0 4 * * *'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Waiting ingest jobs above which the API answers 503 instead of growing Redis without bound. */
  INGEST_MAX_WAITING: positiveInt.default(10_000),
  /** Requests per key per RATE_LIMIT_WINDOW_MS; the default allows 2,000 requests/s per key. */
  RATE_LIMIT_MAX: positiveInt.default(2_000),
  RATE_LIMIT_WINDOW_MS: positiveInt.default(1_000),
  /** The queues `tierwise worker` serves (`start` always serves all of them). */
  WORKER_QUEUES: queueList.default([...QUEUE_NAMES]),
  /** How often each API process adds its requests to the shared per-key counts in Redis and reads the others'. */
  RATE_LIMIT_SYNC_MS: positiveInt.default(100),
  /** Request body bytes the API holds at once (being read, validated or queued); past it, 503. */
  MAX_BODY_BYTES_IN_FLIGHT: positiveInt.default(16 * 1024 * 1024),
  /** The same for requests without a key in a header (/compat/segment with the write key in the body). */
  MAX_KEYLESS_BODY_BYTES_IN_FLIGHT: positiveInt.default(1024 * 1024),
  /** A client must send its request line and headers within this time, else the connection is closed. */
  HTTP_HEADERS_TIMEOUT_MS: positiveInt.default(10_000),
  /** A client must send its whole request (headers and body) within this time, else 408 and close. */
  HTTP_REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  /** A connection with no bytes moving either way for this long is closed (a stalled socket). */
  HTTP_IDLE_TIMEOUT_MS: positiveInt.default(60_000),
  /** An idle keep-alive connection is closed after this long (above a load balancer's usual 60 s). */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: positiveInt.default(72_000),
  INGEST_CONCURRENCY: positiveInt.default(4),
  /** Merge profiles whose normalised trait matches; off by default. */
  IDENTITY_MERGE_TRAITS: mergeTraitList.default([]),
  /** Recompute batches (up to 250 customers each) one worker process runs at once: its memory and CPU share. */
  RECOMPUTE_CONCURRENCY: positiveInt.default(3),
  WEBHOOK_CONCURRENCY: positiveInt.default(16),
  /** Total time one webhook attempt may take. */
  WEBHOOK_TIMEOUT_MS: positiveInt.default(15_000),
  /**
   * Outbox messages fanned out longer ago than this are deleted with their delivery log, except
   * those with a delivery still pending; at least the 14 days failed deliveries can be recovered from.
   */
  WEBHOOK_RETENTION_DAYS: positiveInt.min(14, 'must be at least 14 (the recover window)').default(30),
  /** How often the webhook relay looks for new outbox messages and due retries. */
  WEBHOOK_RELAY_INTERVAL_MS: positiveInt.default(1_000),
  /** How long a worker holds a job before another may take it over as stalled. */
  JOB_LOCK_MS: positiveInt.default(30_000),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it is open (bind HOST to a private address). */
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Postgres connections of the API side of a process (requests other than exports). */
  DB_POOL_SIZE: positiveInt.default(10),
  /** Postgres connections of the worker side of a process (ingest, recompute, maintenance, webhooks). */
  WORKER_DB_POOL_SIZE: positiveInt.default(10),
  /** Postgres connections for segment exports: a download holds one until it is read or dropped. */
  EXPORT_POOL_SIZE: positiveInt.default(3),
  /** How long an export waits for a free export connection before answering 503. */
  EXPORT_WAIT_MS: positiveInt.default(5_000),
  /** An export whose client reads nothing for this long is dropped and its connection released. */
  EXPORT_STALL_TIMEOUT_MS: positiveInt.default(30_000),
});

export type Config = z.infer<typeof configSchema>;

/** Checks between variables that zod cannot express per field. */
function crossChecks(config: Config): string[] {
  return config.HTTP_HEADERS_TIMEOUT_MS > config.HTTP_REQUEST_TIMEOUT_MS
    ? ['HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS']
    : [];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; a bad value names its variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = configSchema.safeParse(present);
  if (result.success) {
    const problems = crossChecks(result.data);
    if (problems.length === 0) return result.data;
    throw new ConfigError(`Invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const lines = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
}
