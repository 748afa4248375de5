import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import type pg from 'pg';
import type { Config } from './config.ts';
import { createDb, createPool, type Db } from './store/db.ts';
import { createQueues, type Queues } from './queues/queues.ts';
import { createMetrics, registerBacklogGauges, registerDeadLetterCount, registerQueueDepths, type Metrics } from './observability/metrics.ts';
import { countDeadLetters } from './store/dead-letters.repo.ts';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Everything the API and the workers need, passed as one explicit object. */
export interface Deps {
  config: Config;
  logger: Logger;
  clock: Clock;
  /** The API side's pool (requests, CLI commands); see README, Pools. */
  pool: pg.Pool;
  db: Db;
  /** The worker side's pool: storing events and recomputing never wait for API requests, nor they for workers. */
  workerPool: pg.Pool;
  workerDb: Db;
  /** Segment exports only: stalled downloads can hold at most these connections. */
  exportPool: pg.Pool;
  /** Fails fast while Redis is down, so the API answers 503 instead of hanging. */
  redis: Redis;
  /** Blocking connection settings for BullMQ workers (retry forever). */
  workerConnection: Redis;
  queues: Queues;
  metrics: Metrics;
  close(): Promise<void>;
}

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  '*.secret',
  '*.key',
  '*.password',
  'config.TIERWISE_ADMIN_KEY',
  'config.METRICS_TOKEN',
  'config.DATABASE_URL',
  'config.REDIS_URL',
];

export function createLogger(config: Pick<Config, 'LOG_LEVEL'>): Logger {
  return pino({ level: config.LOG_LEVEL, redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

export function createDeps(config: Config, overrides: Partial<Pick<Deps, 'logger' | 'clock'>> = {}): Deps {
  const logger = overrides.logger ?? createLogger(config);
  // Three pools, each connecting only when first used: a process that serves no workers opens no
  // worker connections.
  const pool = createPool(config.DATABASE_URL, config.DB_POOL_SIZE, 'api');
  const workerPool = createPool(config.DATABASE_URL, config.WORKER_DB_POOL_SIZE, 'worker');
  const exportPool = createPool(config.DATABASE_URL, config.EXPORT_POOL_SIZE, 'export', config.EXPORT_WAIT_MS);
  for (const p of [pool, workerPool, exportPool]) p.on('error', (err) => logger.error({ err }, 'postgres pool error'));
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true });
  redis.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  const workerConnection = new Redis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: true });
  workerConnection.on('error', (err) => logger.warn({ err: err.message }, 'redis worker connection error'));
  const queues = createQueues(redis, config.QUEUE_PREFIX);
  // The connection errors they relay are logged once above; without a listener BullMQ prints each one.
  for (const queue of Object.values(queues)) queue.on('error', (err: Error) => logger.debug({ err: err.message, queue: queue.name }, 'queue error'));
  const metrics = createMetrics();
  registerQueueDepths(metrics, queues, redis, config.QUEUE_PREFIX);
  const clock = overrides.clock ?? systemClock;
  const db = createDb(pool);
  registerBacklogGauges(metrics, { db, now: () => clock.now(), logger });
  registerDeadLetterCount(metrics, () => countDeadLetters(db));
  return {
    config,
    logger,
    clock,
    pool,
    db,
    workerPool,
    workerDb: createDb(workerPool),
    exportPool,
    redis,
    workerConnection,
    queues,
    metrics,
    async close() {
      await Promise.allSettled(Object.values(queues).map((q) => q.close()));
      await Promise.allSettled([pool.end(), workerPool.end(), exportPool.end(), redis.quit(), workerConnection.quit()]);
    },
  };
}
