import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, eventually, runCli, startService, type TestService } from './harness.ts';


describe('tierwise import --format aliases', () => {
  let svc: TestService;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    svc = await startService();
    dir = await mkdtemp(join(tmpdir(), 'tierwise-aliases-'));
    const { DATABASE_URL, REDIS_URL, QUEUE_PREFIX } = svc.config;
    env = { DATABASE_URL, REDIS_URL, QUEUE_PREFIX, LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
    await svc?.close();
  });

  it('merges each previous_id into its customer_id in file order; refusals and bad rows are counted; a second run merges nothing', async () => {
    const day = 86_400_000;
    const events = ['a', 'b', 'c'].map((c, i) => ({
      id: `imp-${c}`, type: 'order', customer_id: `imp-${c}`, order_id: `o-${c}`, amount: '10.00', occurred_at: new Date(Date.now() - (i + 1) * day).toISOString(),
    }));
    expect((await svc.app.inject({ method: 'POST', url: '/v1/events/batch', payload: { events }, headers: auth() })).statusCode).toBe(202);
    const customer = (id: string) => svc.app.inject({ method: 'GET', url: `/v1/customers/${id}`, headers: auth() });
    await eventually(async () => ((await customer('imp-c')).json().metrics?.order_count === 1 && (await customer('imp-a')).statusCode === 200 ? true : undefined), 60_000, 'customers');

    const file = join(dir, 'aliases.csv');
    await writeFile(file, ['customer_id,previous_id', 'imp-b,imp-a', 'imp-c,imp-b', 'imp-x,imp-x', 'imp-c,imp-a', ',imp-y', ''].join('\n'));
    const run = await runCli(['import', file, '--format', 'aliases', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      rows_read: 5,
      rows_accepted: 4,
      merged: 2,
      already_merged: 1,
      duplicates: 0,
      refused: { total: 1, by_reason: { self_merge: 1 } },
      skipped: { total: 1, by_reason: { invalid_customer_id: 1 } },
      problems: [{ line: 6, reason: 'invalid_customer_id' }],
    });
    const survivor = await eventually(async () => {
      const c = (await customer('imp-c')).json();
      return c.metrics?.order_count === 3 ? c : undefined;
    }, 60_000, 'the survivor recomputed');
    expect(survivor.merged_ids).toEqual(['imp-a', 'imp-b']);
    expect(survivor.metrics.net_revenue).toBe('30.00');
    expect((await customer('imp-a')).statusCode).toBe(308);

    const again = await runCli(['import', file, '--format', 'aliases', '--json'], env);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ rows_accepted: 4, merged: 0, duplicates: 4 });

    const text = await runCli(['import', file, '--format', 'aliases'], env);
    expect(text.stdout).toMatch(/imported before\s+4/);
  });

  it('refuses a file whose header is not customer_id,previous_id', async () => {
    const file = join(dir, 'wrong.csv');
    await writeFile(file, 'customer_id,order_id\na,b\n');
    const run = await runCli(['import', file, '--format', 'aliases'], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/not an aliases file/);
  });
});
