import pg from 'pg';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, createPool, isDatabaseUnavailable } from '../src/store/db.ts';
import { createIsolatedEnv } from './harness.ts';

describe('pool connections when statements fail', () => {
  let env: Awaited<ReturnType<typeof createIsolatedEnv>>;
  beforeAll(async () => {
    env = await createIsolatedEnv();
  });
  afterAll(async () => env?.drop());

  it('a connection whose session ends while checked out does not end the process; its next statement fails and the pool replaces it', async () => {
    const pool = createPool(env.config.DATABASE_URL, 2, 'test');
    try {
      const client = await pool.connect();
      const { pid } = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!;
      const ended = new Promise((resolve) => client.once('end', resolve));
      // What a Postgres restart does to every session, here to this one only, between two
      // statements (as in a transaction while the worker computes): an 'error' no query receives.
      const admin = new pg.Client({ connectionString: env.config.DATABASE_URL });
      await admin.connect();
      await admin.query('select pg_terminate_backend($1)', [pid]);
      await admin.end();
      await ended;

      const next = await client.query('select 1').then(() => undefined, (err: unknown) => err);
      expect(next).toBeInstanceOf(Error);
      expect(isDatabaseUnavailable(next)).toBe(true);
      client.release();
      expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
      expect(pool.totalCount).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it('a transaction whose BEGIN fails gives its connection back', async () => {
    // One connection, and a 2 s wait for it: a connection kept by the failed transaction makes the next one time out.
    const pool = createPool(env.config.DATABASE_URL, 1, 'test', 2_000);
    const db = createDb(pool);
    try {
      // A BEGIN Postgres refuses, as a BEGIN sent to a server going down is refused.
      const refused = db.transaction(async () => 1, { isolationLevel: 'no such level' as never });
      await expect(refused).rejects.toThrow();
      for (let i = 0; i < 3; i++) {
        const rows = await db.transaction(async (tx) => (await tx.execute<{ one: number }>(sql`select 1 as one`)).rows);
        expect(rows).toEqual([{ one: 1 }]);
      }
      expect(pool.totalCount - pool.idleCount).toBe(0);
    } finally {
      await pool.end();
    }
  });
});
