import { readMigrationFiles } from 'drizzle-orm/migrator';
import { sql } from 'drizzle-orm';
import { MIGRATIONS_FOLDER, type Db } from './db.ts';

/** Compares the migrations shipped in drizzle/ with those recorded as applied. */
let shippedCount: number | undefined;

export async function readMigrationState(db: Db): Promise<{ shipped: number; pending: number }> {
  shippedCount ??= readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).length;
  const result = await db.execute<{ n: number }>(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
  const applied = result.rows[0]?.n ?? 0;
  return { shipped: shippedCount, pending: Math.max(0, shippedCount - applied) };
}

/** Resolves when Postgres answers a trivial query. */
export async function pingDatabase(db: Db): Promise<void> {
  await db.execute(sql`select 1`);
}
