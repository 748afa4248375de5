import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, createIsolatedEnv, eventually, freePort } from './harness.ts';
import type { Config } from '../src/config.ts';
import { buildDist } from '../scripts/build.ts';

const BIN = fileURLToPath(new URL('../bin/tierwise.js', import.meta.url));

function run(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
}


describe('the tierwise process', () => {
  let config: Config;
  let drop: () => Promise<void>;
  const env = () => ({ DATABASE_URL: config.DATABASE_URL, REDIS_URL: config.REDIS_URL, QUEUE_PREFIX: config.QUEUE_PREFIX, LOG_LEVEL: 'info', METRICS_PORT: '0' });
  beforeAll(async () => {
    ({ config, drop } = await createIsolatedEnv());
  });

  it('refuses to run workers on a database with pending migrations, then migrates', () => {
    const before = run(['worker'], env());
    expect(before.status).toBe(1);
    expect(before.stdout + before.stderr).toMatch(/tierwise migrate/);
    const migrated = run(['migrate'], env());
    expect(migrated.status).toBe(0);
    expect(migrated.stdout).toContain('migrations applied');
  });
  afterAll(async () => drop?.());

  it.each([
    ['PORT', 'eighty'],
    ['CURRENCY', 'dollars'],
    ['DATABASE_URL', 'mysql://localhost/x'],
    ['SWEEP_INTERVAL_MS', '-5'],
  ])('refuses to start when %s is %s, naming the variable', (name, value) => {
    const result = run(['api'], { ...env(), [name]: value });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain(name);
  });

  // Needs the redis-server binary to run a second, misconfigured Redis beside the real one.
  it.skipIf(spawnSync('redis-server', ['--version']).status !== 0)('refuses a Redis that may evict keys', async () => {
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru']);
    try {
      await eventually(async () => (spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().includes('PONG') ? true : undefined));
      expect(run(['migrate'], env()).status).toBe(0);
      const result = run(['worker'], { ...env(), REDIS_URL: `redis://127.0.0.1:${port}` });
      expect(result.status).toBe(1);
      expect(result.stdout + result.stderr).toMatch(/maxmemory-policy is \\?"allkeys-lru/);
    } finally {
      redis.kill('SIGKILL');
    }
  });

  it('migrates, serves, and stops gracefully on SIGTERM', async () => {
    await startServeStop(BIN);
  });

  // What `npm start`, `npm run api` and the image run: its migrations and dashboard files are found
  // from the bundle's place (scripts/build.ts).
  it('runs the same from the bundle npm run build writes, dashboard included', async () => {
    await startServeStop(await buildDist(), async (base) => {
      const page = await fetch(`${base}/dashboard`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
      const echarts = await fetch(`${base}/dashboard/vendor/echarts.esm.min.mjs`);
      expect(echarts.status).toBe(200);
      expect((await echarts.arrayBuffer()).byteLength).toBeGreaterThan(0);
    });
  });

  /** `start`s the service from `script`, checks it serves (and `also`), then stops it with SIGTERM. */
  async function startServeStop(script: string, also: (base: string) => Promise<void> = async () => {}) {
    const port = await freePort();
    const child: ChildProcess = spawn(process.execPath, [script, 'start'], {
      env: { ...process.env, ...env(), PORT: String(port), TIERWISE_ADMIN_KEY: ADMIN_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const ready = await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      return res?.status === 200 ? res.json() : undefined;
    }, 30_000, 'the service to be ready');
    expect(ready).toMatchObject({ status: 'ready', checks: { migrations: 'ok' } });
    const res = await fetch(`http://127.0.0.1:${port}/v1/customers/nobody`, { headers: { authorization: `Bearer ${ADMIN_KEY}`, 'x-request-id': 'req-abc' } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toBe('req-abc');
    await also(`http://127.0.0.1:${port}`);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(output).toContain('shutting down');
    expect(output).not.toContain(ADMIN_KEY);
  }
});
