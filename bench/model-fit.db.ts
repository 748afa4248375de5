/**
 * The fit job's data path for BENCH_DB=1: the synthetic buyers stored as order events in a
 * throwaway database, then the set-based summary and compression in Postgres (loadFitInput) and
 * the fit, timed separately. The rescore that follows a real fit is left out (its own benchmark).
 */
import { sql } from 'drizzle-orm';
import { fitModel } from '../src/domain/model/predictions.ts';
import { createDb, createPool, migrateDb } from '../src/store/db.ts';
import { loadFitInput } from '../src/store/model.repo.ts';
import { benchConfig, checkInterrupted, cleanupStep, createDatabase, int, removeThrowaways } from './support.ts';
import { mulberry32 } from '../test/seeded-random.ts';
import type { SyntheticBuyer } from './model-fit.simulate.ts';

const DAY_MS = 86_400_000;
const AS_OF = Date.parse('2026-09-30T23:59:59.999Z');
const CHUNK = 20_000;

/** Order events giving exactly the buyer's (x, t_x, T, zbar): the repeat days spread before the last one. */
function* eventsOf(buyers: readonly SyntheticBuyer[]) {
  const rnd = mulberry32(7);
  const asOfDay = Math.floor(AS_OF / DAY_MS);
  for (const [i, b] of buyers.entries()) {
    const first = asOfDay - Math.round(b.T * 7);
    const span = Math.round(b.t_x * 7);
    const days = new Set<number>(b.x > 0 ? [span] : []);
    while (days.size < b.x) days.add(1 + Math.floor(rnd() * (span - 1)));
    const order = (n: number, day: number, amount: string) => ({
      id: `b${i}-${n}`, customer_id: `c${i}`, order_id: `o${n}`, occurred_at: new Date((first + day) * DAY_MS + 3_600_000).toISOString(), amount,
    });
    yield order(0, 0, (10 + rnd() * 40).toFixed(2));
    let n = 1;
    for (const day of days) yield order(n++, day, b.zbar.toFixed(2));
  }
}

export async function measureInPostgres(buyers: readonly SyntheticBuyer[]): Promise<void> {
  await createDatabase();
  const pool = createPool(benchConfig({}).DATABASE_URL, 4);
  try {
    const db = createDb(pool);
    await migrateDb(db);
    const started = performance.now();
    let batch: object[] = [];
    let stored = 0;
    const flush = async () => {
      await db.execute(sql`insert into events (id, customer_id, type, occurred_at, received_at, order_id, data)
        select x.id, x.customer_id, 'order', x.occurred_at, now(), x.order_id, jsonb_build_object('amount', x.amount)
        from jsonb_to_recordset(${JSON.stringify(batch)}::jsonb) as x(id text, customer_id text, order_id text, occurred_at timestamptz, amount text)`);
      stored += batch.length;
      batch = [];
      checkInterrupted();
    };
    for (const e of eventsOf(buyers)) {
      batch.push(e);
      if (batch.length === CHUNK) await flush();
    }
    if (batch.length > 0) await flush();
    await db.execute(sql`analyze events`);
    console.log(`\nPostgres: stored ${int(stored)} order events for ${int(buyers.length)} buyers in ${((performance.now() - started) / 1000).toFixed(0)} s (setup)`);

    const t0 = performance.now();
    const input = await db.transaction((tx) => loadFitInput(tx, new Date(AS_OF)), { isolationLevel: 'repeatable read', accessMode: 'read only' });
    const t1 = performance.now();
    const fit = fitModel(input.rows, input.spend);
    const t2 = performance.now();
    console.log(`  summary + compression in SQL ${(t1 - t0).toFixed(0)} ms → ${int(input.rows.length)} rows, ${int(input.spend.length)} spend rows; fit ${(t2 - t1).toFixed(0)} ms; ${fit.ok ? `buyers ${int(fit.customers)}, r=${fit.params.bgnbd.r.toFixed(4)}` : fit.reason}`);
  } finally {
    await cleanupStep('closing the pool', () => pool.end());
    await removeThrowaways();
  }
}
