/**
 * The daily statistics refresh (refreshAndRescore with changedOnly, the scheduled job's path) timed
 * in the benchmark process with a clock of its own, the rows it writes, the CPU it costs, and the
 * size of every per-customer table. See bench/README.md.
 *
 * The worker processes keep the real clock; a day-later refresh needs a clock one day ahead, so
 * these refreshes call the service directly here (the same function the scheduled job calls)
 * rather than through a job. They run after every figure that uses the workers, so nothing
 * afterwards sees state stamped in the future.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createDeps, type Deps } from '../src/deps.ts';
import { refreshAndRescore } from '../src/services/rescore.service.ts';
import { waitForRedis } from '../src/queues/redis-policy.ts';
import { benchConfig, sleep } from './support.ts';

const DAY_MS = 86_400_000;
/** Clock ticks per second of /proc/<pid>/stat utime and stime (USER_HZ, 100 on Linux). */
const CLK_TCK = 100;

/** CPU seconds (user + system) a process has used so far; 0 once it is gone. */
export function processCpuSeconds(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Backends opened by the benchmark process's own pools: not counted as the services' CPU. */
const benchBackends = new Set<number>();

/** Call once on the benchmark's own deps, before they connect. */
export function excludeFromCpu(deps: Deps): void {
  for (const pool of [deps.pool, deps.workerPool, deps.exportPool]) pool.on('connect', (client) => benchBackends.add((client as unknown as { processID: number }).processID));
}

/** The backends (pids) of this database serving the services, not the benchmark's own polling. */
export async function backendPids(deps: Deps): Promise<number[]> {
  const { rows } = await deps.pool.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database()');
  return rows.map((r) => r.pid).filter((pid) => !benchBackends.has(pid));
}

/** CPU seconds used so far by the given processes; with `before`, the difference (processes new since count whole). */
export function cpuOf(pids: number[]): Map<number, number> {
  return new Map(pids.map((pid) => [pid, processCpuSeconds(pid)]));
}

export function cpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

export interface TableWrites {
  inserted: number;
  updated: number;
  hotUpdated: number;
  deleted: number;
}

/** Per table, the rows inserted, updated (HOT among them) and deleted so far (pg_stat_user_tables). */
async function tableWrites(deps: Deps): Promise<Map<string, TableWrites>> {
  const { rows } = await deps.pool.query<{ relname: string; ins: number; upd: number; hot: number; del: number }>(
    'select relname, n_tup_ins as ins, n_tup_upd as upd, n_tup_hot_upd as hot, n_tup_del as del from pg_stat_user_tables',
  );
  return new Map(rows.map((r) => [r.relname, { inserted: r.ins, updated: r.upd, hotUpdated: r.hot, deleted: r.del }]));
}

function writesSince(before: Map<string, TableWrites>, after: Map<string, TableWrites>): Map<string, TableWrites> {
  const delta = new Map<string, TableWrites>();
  for (const [table, a] of after) {
    const b = before.get(table) ?? { inserted: 0, updated: 0, hotUpdated: 0, deleted: 0 };
    const d = { inserted: a.inserted - b.inserted, updated: a.updated - b.updated, hotUpdated: a.hotUpdated - b.hotUpdated, deleted: a.deleted - b.deleted };
    if (d.inserted + d.updated + d.deleted > 0) delta.set(table, d);
  }
  return delta;
}

export interface Refresh {
  seconds: number;
  /** Node and Postgres CPU seconds of the refresh (the benchmark process and its own backends). */
  cpuSeconds: number;
  /** Customers derived in full (the set-based selection plus the due ones). */
  derived: number;
  /** Customers whose judgments changed (their sequence moved), as the service counts them. */
  changed: number;
  /** Rows updated in `customers` (pg_stat_user_tables n_tup_upd delta), HOT among them. */
  customersUpdated: number;
  customersHotUpdated: number;
  /**
   * Customers whose stored row differs after the refresh (every column but `computed_at`, compared
   * by a fingerprint taken before and after, outside the timed window): what a refresh writing
   * only changed customers may update. Null when not compared.
   */
  rowsChanged: number | null;
  /** Rows inserted, updated or deleted in the other per-customer tables (history, memberships…). */
  otherRowsWritten: number;
}

/**
 * One refreshAndRescore({ changedOnly: true }) at the instant `now`, on connections of its own that
 * are closed afterwards: a backend reports its table counters when it exits, so the n_tup_upd delta
 * read next is complete, and its CPU is this refresh's alone.
 */
export async function timeDailyRefresh(deps: Deps, now: Date, options: { compareRows?: boolean } = {}): Promise<Refresh> {
  const perCustomer = new Set(await perCustomerTables(deps));
  if (options.compareRows) await fingerprintRows(deps);
  const own = createDeps(benchConfig({}), { clock: { now: () => now } });
  const pids = new Set<number>();
  for (const pool of [own.pool, own.workerPool]) pool.on('connect', (client) => pids.add((client as unknown as { processID: number }).processID));
  let result: Awaited<ReturnType<typeof refreshAndRescore>>;
  let backendCpu = 0;
  let writesBefore: Map<string, TableWrites>;
  let nodeBefore: NodeJS.CpuUsage;
  let seconds: number;
  let node: NodeJS.CpuUsage;
  try {
    // As the services do before their first command (the client fails fast while not connected).
    await waitForRedis(own.redis);
    writesBefore = await tableWrites(deps);
    nodeBefore = process.cpuUsage();
    const t0 = performance.now();
    result = await refreshAndRescore(own, { changedOnly: true });
    seconds = (performance.now() - t0) / 1000;
    node = process.cpuUsage(nodeBefore);
  } finally {
    backendCpu = [...pids].reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
    await own.close();
  }
  await waitGone(deps, [...pids]);
  const writes = writesSince(writesBefore, await tableWrites(deps));
  const customers = writes.get('customers') ?? { inserted: 0, updated: 0, hotUpdated: 0, deleted: 0 };
  let other = 0;
  // Only the per-customer tables: the outbox and delivery tables are the relay's, which the worker
  // processes run meanwhile.
  for (const [table, w] of writes) if (table !== 'customers' && perCustomer.has(table)) other += w.inserted + w.updated + w.deleted;
  const rowsChanged = options.compareRows ? await rowsChangedSinceFingerprint(deps) : null;
  return {
    seconds,
    rowsChanged,
    cpuSeconds: (node.user + node.system) / 1e6 + backendCpu,
    derived: result.customers,
    changed: result.changed,
    customersUpdated: customers.updated,
    customersHotUpdated: customers.hotUpdated,
    otherRowsWritten: other,
  };
}

// The fingerprint table has no customer_id column, so it is never counted as a per-customer table.
const FINGERPRINTS = 'bench_customer_fingerprints';
const fingerprint = `md5((to_jsonb(c) - 'computed_at')::text)`;

async function fingerprintRows(deps: Deps): Promise<void> {
  await deps.pool.query(`drop table if exists ${FINGERPRINTS}`);
  await deps.pool.query(`create unlogged table ${FINGERPRINTS} as select c.id, ${fingerprint} as h from customers c`);
  await deps.pool.query(`create unique index on ${FINGERPRINTS} (id)`);
}

async function rowsChangedSinceFingerprint(deps: Deps): Promise<number> {
  const { rows } = await deps.pool.query<{ n: number }>(
    `select count(*)::int as n from customers c left join ${FINGERPRINTS} f on f.id = c.id where f.id is null or f.h <> ${fingerprint}`,
  );
  await deps.pool.query(`drop table ${FINGERPRINTS}`);
  return rows[0]!.n;
}

async function waitGone(deps: Deps, pids: number[], timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await deps.pool.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where pid = any($1)', [pids]);
    if (rows[0]!.n === 0) return;
    await sleep(50);
  }
  throw new Error('the refresh connections did not close in time; their table counters would be incomplete');
}

export const dayLater = (instant: Date) => new Date(instant.getTime() + DAY_MS);

export interface TableSize {
  table: string;
  rows: number;
  heap: number;
  /** TOAST plus the free-space and visibility maps (pg_table_size − main fork). */
  toast: number;
  indexes: number;
  total: number;
  deadRows: number;
}

/**
 * Sizes (bytes) of `customers`, of every other table holding a `customer_id` column except
 * `events` (history, segment memberships and any per-customer table added later), and of `events`.
 */
/** `customers` and every other table holding a `customer_id` column except `events`: history, segment memberships and any per-customer table added later. */
export async function perCustomerTables(deps: Deps): Promise<string[]> {
  const { rows } = await deps.pool.query<{ table: string }>(
    `select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace and n.nspname = current_schema()
     where c.relkind in ('r', 'p') and c.relname <> 'events' and (c.relname = 'customers' or exists (
       select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'customer_id' and not a.attisdropped))
     order by c.relname = 'customers' desc, c.relname`,
  );
  return rows.map((r) => r.table);
}

/** Sizes (bytes) of the per-customer tables (perCustomerTables) and of `events`. */
export async function tableSizes(deps: Deps): Promise<{ perCustomer: TableSize[]; events: TableSize }> {
  const sizes: TableSize[] = [];
  for (const table of [...(await perCustomerTables(deps)), 'events']) {
    const { rows } = await deps.pool.query<{ heap: number; toast: number; indexes: number; total: number; dead: number; estimate: number }>(
      `select pg_relation_size(c.oid) as heap, pg_table_size(c.oid) - pg_relation_size(c.oid) as toast,
         pg_indexes_size(c.oid) as indexes, pg_total_relation_size(c.oid) as total,
         coalesce(s.n_dead_tup, 0) as dead, greatest(c.reltuples, 0)::bigint as estimate
       from pg_class c left join pg_stat_user_tables s on s.relid = c.oid
       where c.oid = to_regclass($1)`,
      [table],
    );
    const r = rows[0]!;
    // Exact counts for customers and events (the per-customer and per-event figures); the planner's estimate for other large tables.
    const exact = table === 'customers' || table === 'events' || r.total < 64 * 2 ** 20;
    const count = exact ? (await deps.pool.query<{ n: number }>(`select count(*)::int as n from "${table}"`)).rows[0]!.n : r.estimate;
    sizes.push({ table, rows: count, heap: r.heap, toast: r.toast, indexes: r.indexes, total: r.total, deadRows: r.dead });
  }
  const events = sizes.at(-1)!;
  return { perCustomer: sizes.slice(0, -1), events };
}

/**
 * The per-customer tables rewritten without dead rows (VACUUM FULL), then measured again: the size
 * the stored state needs, apart from what earlier passes left behind (autovacuum is off here).
 * Nothing in this shop is measured after it.
 */
export async function compactedSizes(deps: Deps): Promise<{ perCustomer: TableSize[]; events: TableSize }> {
  for (const table of await perCustomerTables(deps)) await deps.pool.query(`vacuum (full, analyze) "${table}"`);
  return tableSizes(deps);
}
