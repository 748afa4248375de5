/**
 * The full rescore in isolation, small enough to run under the CPU profiler: a throwaway database
 * and queue prefix (dropped at the end) with a shop of BENCH_CUSTOMERS customers and ten orders
 * each (bench/scale.generate.ts, state seeded approximately in SQL), then BENCH_RUNS full rescores
 * in this process, each next to the bare SQL aggregate over the same orders. The first rescore
 * replaces the approximate state (it writes every customer); the later ones, a day apart on the
 * clock, write only what changed. BENCH_CHANGED_ONLY=1: the runs after the first are daily refreshes
 * (`changedOnly`), the second a day later, the third on the same day (nothing changed).
 * BENCH_SEED=rescore: customers start with no state, so the first run is a first rescore (every customer new).
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createDeps } from '../src/deps.ts';
import { refreshAndRescore } from '../src/services/rescore.service.ts';
import { migrateDb } from '../src/store/db.ts';
import { generateShop } from './scale.generate.ts';
import { bareAggregateSeconds } from './scale.rescore.ts';
import { NAME, benchConfig, cleanupStep, createDatabase, handleInterrupts, int, intEnv, machine, median, removeThrowaways, runMain } from './support.ts';

const CUSTOMERS = intEnv('BENCH_CUSTOMERS', 100_000);
const RUNS = intEnv('BENCH_RUNS', 3);
const CHANGED_ONLY = process.env.BENCH_CHANGED_ONLY === '1';
/** `rescore`: customers start with no state, so the first run is the first rescore after an import (every customer new). */
const SEED = process.env.BENCH_SEED === 'rescore' ? 'rescore' : 'sql';
const DAY_MS = 86_400_000;

async function main(): Promise<number> {
  handleInterrupts();
  await createDatabase();
  let now = new Date();
  const deps = createDeps(benchConfig({}), { clock: { now: () => now } });
  try {
    await migrateDb(deps.db);
    console.log(`rescore profile: ${machine()}; database ${NAME}`);
    const client = await deps.pool.connect();
    try {
      await generateShop(client as unknown as pg.Client, { customers: CUSTOMERS, orders: CUSTOMERS * 10 }, now, (l) => console.log(`  ${l}`), SEED);
    } finally {
      client.release();
    }
    const ratios: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const aggregate = await bareAggregateSeconds(deps);
      const t0 = performance.now();
      // BENCH_CHANGED_ONLY=1: the runs after the first are daily refreshes (changedOnly), the second on the same day.
      const changedOnly = CHANGED_ONLY && run > 0;
      const result = await refreshAndRescore(deps, { changedOnly });
      const seconds = (performance.now() - t0) / 1000;
      const written = (await deps.pool.query<{ n: number }>('select count(*)::int as n from customers where computed_at = $1', [now])).rows[0]!.n;
      ratios.push(seconds / aggregate);
      console.log(`  run ${run + 1}${changedOnly ? ' (changed only)' : ''}: rescore ${seconds.toFixed(2)} s (${int(result.customers)} customers, ${int(written)} written, ${int(result.changed)} changed), bare aggregate ${aggregate.toFixed(2)} s, ratio ${(seconds / aggregate).toFixed(2)}`);
      if (!(CHANGED_ONLY && run === 1)) now = new Date(now.getTime() + DAY_MS);
    }
    console.log(`rescore / bare aggregate: median ${median(ratios).toFixed(2)} over ${RUNS} runs`);
    return 0;
  } finally {
    await cleanupStep('closing connections', () => deps.close());
    await removeThrowaways();
  }
}

runMain(main);
