import closeWithGrace from 'close-with-grace';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createDeps, type Deps } from './deps.ts';
import { buildApp } from './http/app.ts';
import { migrateDb } from './store/db.ts';
import { startWorkers } from './workers/workers.ts';
import { checkRedisPolicy, waitForRedis } from './queues/redis-policy.ts';
import { ensureDatabase } from './store/db.ts';
import { readMigrationState } from './store/migrations.ts';
import { keysCommand, rescoreCommand, UsageError, workerQueues } from './cli/commands.ts';
import { importCommand } from './cli/import.command.ts';
import { serveMetrics } from './observability/metrics-http.ts';

const COMMANDS = ['start', 'api', 'worker', 'migrate', 'keys', 'rescore', 'import'] as const;
type Command = (typeof COMMANDS)[number];

const USAGE = `Usage: tierwise <command>

  start     migrate, then run the API and the workers in one process
  api       run the HTTP API only
  worker [--queues ingest,recompute,maintenance,relay,webhooks]
            run the queue workers only: every queue, or those listed (default WORKER_QUEUES)
  migrate   apply database migrations and exit
  keys create --name NAME --scopes events:write,customers:read
            create an API key and print it once
  rescore   refresh population statistics and rescore every customer now
  import FILE.csv[.gz] [--format native|online-retail] [--json] [--max-problems N] [--no-rescore]
            import historical orders (COPY speed, idempotent), then rescore everyone once

Configuration comes from environment variables; see README.md.`;

export async function main(argv: string[]): Promise<void> {
  const arg = argv[0];
  if (!COMMANDS.includes(arg as Command)) {
    const asked = arg === undefined || arg === 'help' || arg === '--help';
    (asked ? console.log : console.error)(USAGE);
    process.exitCode = asked ? 0 : 2;
    return;
  }
  const command = arg as Command;
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(78);
    }
    throw err;
  }
  const deps = createDeps(config);
  try {
    await run(command, deps, argv.slice(1));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      await deps.close();
      process.exit(2);
    }
    deps.logger.fatal({ err }, `tierwise ${command} failed to start`);
    await deps.close();
    process.exit(1);
  }
}

async function run(command: Command, deps: Deps, args: string[]): Promise<void> {
  const { config, logger } = deps;
  const served = command === 'worker' ? workerQueues(config, args) : undefined;
  if (command === 'migrate' || command === 'start') {
    if (await ensureDatabase(config.DATABASE_URL)) logger.info('database created');
    await migrateDb(deps.db);
    logger.info('migrations applied');
    if (command === 'migrate') return deps.close();
  } else {
    // api, worker and the CLI commands never migrate: several replicas may start at once.
    const { pending } = await readMigrationState(deps.db).catch(() => ({ pending: -1 }));
    if (pending !== 0) {
      throw new Error(
        pending > 0
          ? `${pending} database migration(s) pending: run \`tierwise migrate\` (or \`tierwise start\`) first`
          : 'the database has no Tierwise schema: run `tierwise migrate` (or `tierwise start`) first',
      );
    }
  }
  if (command === 'keys' || command === 'rescore' || command === 'import') {
    const cli = { keys: keysCommand, rescore: rescoreCommand, import: importCommand }[command];
    await cli(deps, args);
    return deps.close();
  }
  await waitForRedis(deps.redis);
  await checkRedisPolicy(deps.redis);
  const app = command === 'worker' ? undefined : await buildApp(deps);
  // A worker has no API to scrape, so it serves its own /metrics and /healthz. `start` does not:
  // its API serves the same registry (workers' metrics included) on PORT.
  const metrics =
    command === 'worker' && config.METRICS_PORT !== 0
      ? await serveMetrics(deps.metrics.registry, { port: config.METRICS_PORT, host: config.HOST, logger }).catch((err: NodeJS.ErrnoException) => {
          throw err.code === 'EADDRINUSE'
            ? new Error(`METRICS_PORT ${config.METRICS_PORT} is in use: give each worker process on this host its own METRICS_PORT (0 serves none)`)
            : err;
        })
      : undefined;
  const workers = command === 'api' ? undefined : await startWorkers(deps, served);
  if (app) await app.listen({ port: config.PORT, host: config.HOST });

  // HTTP first (stop accepting, finish in-flight requests), then workers (finish jobs), then pools.
  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error');
    else logger.info({ signal }, 'shutting down');
    await app?.close();
    await workers?.close();
    await metrics?.close();
    await deps.close();
  });
}
