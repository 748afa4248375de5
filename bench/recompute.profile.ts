/**
 * Recompute throughput in isolation: a throwaway database with BENCH_CUSTOMERS customers and
 * ~BENCH_EVENTS events each (orders, some with items, partial refunds, interactions), one seeding
 * pass, then `recomputeCustomers` in batches of BENCH_BATCH, BENCH_RUNS timed passes, median customers/s.
 * Run it under `--cpu-prof` to see where a recompute spends its time; EXPLAIN=1 prints the plans of
 * the batch's statements afterwards.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { createDeps, type Deps } from '../src/deps.ts';
import { loadRecomputeContext, recomputeCustomers, type RecomputeContext } from '../src/services/recompute.service.ts';
import { migrateDb } from '../src/store/db.ts';
import { generateShop } from './scale.generate.ts';
import { NAME, benchConfig, cleanupStep, createDatabase, handleInterrupts, checkInterrupted, int, intEnv, machine, median, removeThrowaways, runMain } from './support.ts';
import { DRAIN_BATCH } from '../src/workers/recompute.worker.ts';

const CUSTOMERS = intEnv('BENCH_CUSTOMERS', 20_000);
const EVENTS = intEnv('BENCH_EVENTS', 15);
const BATCH = intEnv('BENCH_BATCH', DRAIN_BATCH);
const RUNS = intEnv('BENCH_RUNS', 3);

/** Items on a third of the orders and one interaction per three orders, on top of the scale shop. */
async function addItemsAndInteractions(client: pg.Client, now: Date): Promise<void> {
  await client.query(`
    update events set data = data || jsonb_build_object('items', jsonb_build_array(
      jsonb_build_object('sku', 'sku-' || (hashtext(id) & 63), 'category', 'c' || (hashtext(id) & 7), 'quantity', 1 + (hashtext(id) & 3), 'unit_price', '4.99'),
      jsonb_build_object('sku', 'sku-' || (hashtext(id || 'b') & 63), 'category', 'c' || (hashtext(id || 'b') & 7), 'quantity', 1, 'unit_price', '12.50')))
    where type = 'order' and hashtext(id) % 3 = 0`);
  await client.query(
    `insert into events (id, customer_id, type, occurred_at, received_at, data)
     select 'ev-i-' || substr(e.id, 6), e.customer_id, 'interaction', e.occurred_at + interval '2 hours', e.occurred_at + interval '2 hours',
       jsonb_build_object('kind', (array['support', 'email', 'visit'])[1 + (abs(hashtext(e.id)) % 3)], 'satisfaction', 1 + abs(hashtext(e.id || 's')) % 5, 'channel', 'online')
     from events e where e.type = 'order' and abs(hashtext(e.id)) % 3 = 1 and e.occurred_at + interval '2 hours' < $1::timestamptz`,
    [now],
  );
  await client.query('vacuum (analyze) events');
}

/**
 * One more batch on fresh connections with auto_explain (analyze, buffers) sending every
 * statement's plan to the client as a notice: the row lock select, the events load, the
 * membership read, the update and the inserts, exactly as recomputeCustomers issues them.
 */
async function explainBatch(deps: Deps, ids: string[], context: RecomputeContext): Promise<void> {
  for (const setting of [
    `session_preload_libraries = 'auto_explain'`,
    'auto_explain.log_min_duration = 0',
    'auto_explain.log_analyze = on',
    'auto_explain.log_buffers = on',
    `auto_explain.log_level = 'notice'`,
  ]) {
    await deps.pool.query(`alter database "${NAME}" set ${setting}`);
  }
  const explained = createDeps(benchConfig({}));
  explained.pool.on('connect', (client) => client.on('notice', (n) => console.log(`\n${n.message}`)));
  try {
    await recomputeCustomers(explained, ids, context);
  } finally {
    await explained.close();
  }
}

async function main(): Promise<number> {
  handleInterrupts();
  await createDatabase();
  const deps = createDeps(benchConfig({}));
  try {
    await migrateDb(deps.db);
    const now = deps.clock.now();
    console.log(`recompute profile: ${machine()}; database ${NAME}`);
    const client = await deps.pool.connect();
    try {
      // ~75% of events are orders: refunds and interactions make up the rest.
      await generateShop(client as unknown as pg.Client, { customers: CUSTOMERS, orders: Math.round(CUSTOMERS * EVENTS * 0.75) }, now, (l) => console.log(`  ${l}`));
      await addItemsAndInteractions(client as unknown as pg.Client, now);
      const { rows } = await client.query<{ n: number }>('select count(*)::int as n from events');
      console.log(`  events: ${int(rows[0]!.n)} (${(rows[0]!.n / CUSTOMERS).toFixed(1)} per customer)`);
    } finally {
      client.release();
    }
    const ids = (await deps.pool.query<{ id: string }>('select id from customers order by id')).rows.map((r) => r.id);
    const context = await loadRecomputeContext(deps, now);
    const pass = async () => {
      const t0 = performance.now();
      for (let i = 0; i < ids.length; i += BATCH) {
        checkInterrupted();
        await recomputeCustomers(deps, ids.slice(i, i + BATCH), context);
      }
      return ids.length / ((performance.now() - t0) / 1000);
    };
    console.log(`  seeding pass: ${int(await pass())} customers/s`);
    await deps.pool.query('vacuum (analyze) customers');
    const rates: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      rates.push(await pass());
      console.log(`  pass ${r + 1}: ${int(rates[r]!)} customers/s`);
    }
    console.log(`recompute, batches of ${BATCH}: median ${int(median(rates))} customers/s over ${RUNS} passes`);
    if (process.env.EXPLAIN === '1') await explainBatch(deps, ids.slice(0, BATCH), context);
    return 0;
  } finally {
    await cleanupStep('closing connections', () => deps.close());
    await removeThrowaways();
  }
}

runMain(main);
