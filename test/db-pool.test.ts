import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, isDatabaseUnavailable } from '../src/store/db.ts';
import { createIsolatedEnv } from './harness.ts';

describe('a pool connection whose server session ends while it is checked out', () => {
  let env: Awaited<ReturnType<typeof createIsolatedEnv>>;
  beforeAll(async () => {
    env = await createIsolatedEnv();
  });
  afterAll(async () => env?.drop());

  it('does not end the process; its next statement fails and the pool replaces it', async () => {
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
});
