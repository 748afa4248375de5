/** Full rescore against the bare SQL aggregate over the same events, and the recompute throughput. */
import { performance } from 'node:perf_hooks';
import { sql } from 'drizzle-orm';
import type { Deps } from '../src/deps.ts';
import { refreshAndRescore } from '../src/services/rescore.service.ts';
import { enqueueRecomputes } from '../src/queues/queues.ts';
import { loadRecomputeContext, recomputeCustomers } from '../src/services/recompute.service.ts';
import { countDirty } from '../src/queues/recompute.dirty.ts';
import { checkInterrupted, sleep } from './support.ts';

/** Seconds of `SELECT customer_id, max(ts), count(*), sum(amount) … GROUP BY customer_id`, work_mem 256 MB. */
export async function bareAggregateSeconds(deps: Deps): Promise<number> {
  const client = await deps.pool.connect();
  try {
    await client.query('begin');
    await client.query(`set local work_mem = '256MB'`);
    const t0 = performance.now();
    // The outer aggregate reads every column, so all of them are computed, without shipping 1M rows.
    await client.query(`
      select count(*), max(last_at), sum(n), sum(total) from (
        select customer_id, max(occurred_at) as last_at, count(*) as n, sum((data ->> 'amount')::numeric) as total
        from events where type = 'order' group by customer_id) a`);
    const seconds = (performance.now() - t0) / 1000;
    await client.query('commit');
    return seconds;
  } finally {
    client.release();
  }
}

/**
 * Seconds to write every customer row once, the least a rescore that changes every customer must
 * do: `computed_at = computed_at` (an unindexed column, so each update may be HOT) in id-ordered
 * batches of 1,000 rows, one transaction each, as a rescore writes them.
 */
export async function bareRowUpdateSeconds(deps: Deps): Promise<number> {
  const bounds = (await deps.pool.query<{ id: string }>(`select id from (select id, row_number() over (order by id) as n from customers) x where n % 1000 = 0 order by id`)).rows.map((r) => r.id);
  const t0 = performance.now();
  let after = '';
  for (const last of [...bounds, null]) {
    if (last === null) await deps.pool.query('update customers set computed_at = computed_at where id > $1', [after]);
    else await deps.pool.query('update customers set computed_at = computed_at where id > $1 and id <= $2', [after, last]);
    if (last !== null) after = last;
    checkInterrupted();
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Seconds to write every customer row once with its indexes, the least any pass that creates every
 * customer's state must do: one `INSERT … SELECT` of the rows as they stand into a copy of the
 * table with the same indexes (`like customers including all`), dropped afterwards. No derivation,
 * no JSON, no round trips: a floor for the first rescore after an import.
 */
export async function bareRowInsertSeconds(deps: Deps): Promise<number> {
  const client = await deps.pool.connect();
  try {
    await client.query('drop table if exists bench_customers_copy');
    await client.query('create table bench_customers_copy (like customers including all)');
    const t0 = performance.now();
    await client.query('insert into bench_customers_copy select * from customers');
    const seconds = (performance.now() - t0) / 1000;
    await client.query('drop table bench_customers_copy');
    return seconds;
  } finally {
    client.release();
  }
}

export async function rescoreSeconds(deps: Deps): Promise<{ seconds: number; customers: number; changed: number }> {
  const t0 = performance.now();
  const result = await refreshAndRescore(deps);
  return { seconds: (performance.now() - t0) / 1000, customers: result.customers, changed: result.changed };
}

export async function sampleCustomerIds(deps: Deps, n: number, salt: number): Promise<string[]> {
  const rows = await deps.db.execute<{ id: string }>(
    sql`select id from customers order by md5(id || ${String(salt)}) limit ${n}`,
  );
  return rows.rows.map((r) => r.id);
}

/** The baseline: one transaction per customer, one after another. */
export async function naiveRecomputeRate(deps: Deps, ids: string[]): Promise<number> {
  const context = await loadRecomputeContext(deps, deps.clock.now());
  const t0 = performance.now();
  for (const id of ids) await recomputeCustomers(deps, [id], context);
  return ids.length / ((performance.now() - t0) / 1000);
}

/** Customers/s the worker process drains once `ids` are asked for all at once. */
export async function drainedRecomputeRate(deps: Deps, ids: string[], timeoutMs = 600_000): Promise<number> {
  const t0 = performance.now();
  await enqueueRecomputes(deps, ids);
  await waitForRecomputes(deps, timeoutMs);
  return ids.length / ((performance.now() - t0) / 1000);
}

export async function waitForRecomputes(deps: Deps, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await deps.queues.recompute.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    const pending = Object.values(counts).reduce((a, b) => a + b, 0);
    if (pending === 0 && (await countDirty(deps.redis, deps.config.QUEUE_PREFIX)) === 0) return;
    if (Date.now() > deadline) throw new Error('recomputes did not finish in time');
    checkInterrupted();
    await sleep(20);
  }
}
