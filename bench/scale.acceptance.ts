/**
 * The scale benchmark's ingest acceptance figures alone (see bench/README.md): `tierwise api` as a
 * child process against an empty throwaway database, no worker (so nothing is stored, as with the
 * worker paused in `npm run bench`), next to the bare Fastify no-op of the same round, plus the
 * API's peak RSS. `BENCH_API_NODE_ARGS` (space-separated) go to the API's node only (e.g. `--cpu-prof`).
 *
 *   npx tsx bench/scale.acceptance.ts
 *   BENCH_API_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" BENCH_RUNS=1 npx tsx bench/scale.acceptance.ts
 */
import { randomBytes } from 'node:crypto';
import { createDeps } from '../src/deps.ts';
import { migrateDb } from '../src/store/db.ts';
import { benchConfig, cleanupStep, createDatabase, dec, handleInterrupts, int, intEnv, machine, median, removeThrowaways, runMain } from './support.ts';
import { measureAcceptance, type Acceptance } from './scale.ingest.ts';
import { freePort, serviceEnv, spawnNoop, spawnService, waitReady, type Child } from './scale.processes.ts';

const RUNS = intEnv('BENCH_RUNS', 3);
const SECONDS = intEnv('BENCH_SECONDS', 10);
const CUSTOMERS = 20_000;
const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;

handleInterrupts();

async function main(): Promise<number> {
  console.log(machine());
  await createDatabase();
  const deps = createDeps(benchConfig({ TIERWISE_ADMIN_KEY: ADMIN_KEY }));
  const children: Child[] = [];
  try {
    await migrateDb(deps.db);
    const port = await freePort();
    const env = serviceEnv(deps.config, { TIERWISE_ADMIN_KEY: ADMIN_KEY, PORT: String(port), RATE_LIMIT_MAX: '100000000', INGEST_MAX_WAITING: '1000000' });
    const api = await spawnService('api', env, { nodeArgs: (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean) });
    children.push(api);
    const apiUrl = `http://127.0.0.1:${port}`;
    await waitReady(apiUrl);
    const noop = await spawnNoop(await freePort());
    children.push(noop.child);

    const rounds: Acceptance[] = [];
    for (let run = 0; run < RUNS; run++) {
      rounds.push(await measureAcceptance(deps, { api: apiUrl, noop: noop.url }, ADMIN_KEY, CUSTOMERS, SECONDS));
      const r = rounds.at(-1)!;
      console.log(
        `round ${run + 1}: no-op ${int(r.noop.reqPerSec)} req/s, single ${int(r.single.reqPerSec)} req/s (p99 ${r.single.p99} ms, ` +
          `${dec(r.single.reqPerSec / r.noop.reqPerSec, 3)}×), batch ${int(r.batch.eventsPerSec)} events/s; API peak RSS so far ${dec(api.peakRssMiB(), 0)} MiB`,
      );
    }
    const noopRps = median(rounds.map((r) => r.noop.reqPerSec));
    const single = median(rounds.map((r) => r.single.reqPerSec));
    console.log(
      `\nmedian of ${RUNS} × ${SECONDS} s: no-op ${int(noopRps)} req/s, single ${int(single)} req/s, ` +
        `ratio of medians ${dec(single / noopRps, 3)}, median of ratios ${dec(median(rounds.map((r) => r.single.reqPerSec / r.noop.reqPerSec)), 3)}; ` +
        `single p99 ${dec(median(rounds.map((r) => r.single.p99)), 1)} ms; batch ${int(median(rounds.map((r) => r.batch.eventsPerSec)))} events/s; ` +
        `API peak RSS ${dec(api.peakRssMiB(), 0)} MiB`,
    );
    return 0;
  } finally {
    for (const child of children) await cleanupStep(`stopping ${child.name}`, () => child.stop());
    await cleanupStep('closing connections', () => deps.close());
    await removeThrowaways();
  }
}

runMain(main);
