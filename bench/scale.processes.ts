/** The API, the workers and the bare Fastify baseline as separate child processes, with their peak RSS. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '../src/config.ts';
import { buildDist } from '../scripts/build.ts';
import { sleep } from './support.ts';

const NOOP = fileURLToPath(new URL('./scale.noop.ts', import.meta.url));

export interface Child {
  name: string;
  process: ChildProcess;
  /** Peak resident set size so far (VmHWM), MiB. */
  peakRssMiB(): number;
  stop(): Promise<void>;
}

function track(name: string, child: ChildProcess): Child {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  child.on('exit', (code, signal) => {
    if (code !== 0 && code !== null && signal === null) console.error(`${name} exited with ${code}:\n${stderr}`);
  });
  return {
    name,
    process: child,
    peakRssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
      return kb / 1024;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export function serviceEnv(config: Config, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // Several workers on one host: none serves a metrics port.
    METRICS_PORT: '0',
    DATABASE_URL: config.DATABASE_URL,
    REDIS_URL: config.REDIS_URL,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

/**
 * What `npm start`, `npm run api` and `npm run worker` run (package.json): the bundle
 * `npm run build` writes, built once per benchmark from the code as it is.
 */
let bundle: string | undefined;
async function entry(): Promise<string> {
  bundle ??= await buildDist();
  return bundle;
}

/** How `npm run api` (package.json) and the README run the API: under a V8 heap ceiling (README, "Memory"). */
const API_NODE_ARGS = ['--max-old-space-size=512'];

/** How `npm run worker` and `npm start` run the workers (README, "Memory"); BENCH_WORKER_NODE_ARGS replaces it to compare settings. */
const WORKER_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? '--max-old-space-size=320').split(' ').filter(Boolean);

/**
 * `tierwise api` or `tierwise worker [--queues …]`; `nodeArgs` go to node itself too (e.g.
 * `--cpu-prof`, not allowed in NODE_OPTIONS).
 */
export async function spawnService(
  command: 'api' | 'worker',
  env: NodeJS.ProcessEnv,
  options: { args?: string[]; name?: string; nodeArgs?: string[] } = {},
): Promise<Child> {
  const nodeArgs = [...(command === 'api' ? API_NODE_ARGS : WORKER_NODE_ARGS), ...(options.nodeArgs ?? [])];
  const script = await entry();
  return track(options.name ?? command, spawn(process.execPath, [...nodeArgs, script, command, ...(options.args ?? [])], { env, stdio: ['ignore', 'ignore', 'pipe'] }));
}

/**
 * How the benchmark runs `tierwise worker`: `split` as the README recommends for production (one
 * process storing events, one for recomputes and everything else), `one` with every queue in one process.
 */
export const WORKER_LAYOUTS = {
  split: ['ingest', 'recompute,maintenance,relay,webhooks'],
  one: [undefined],
} as const;

export type WorkerLayout = keyof typeof WORKER_LAYOUTS;

export async function spawnWorkers(env: NodeJS.ProcessEnv, layout: WorkerLayout): Promise<Child[]> {
  return Promise.all(
    WORKER_LAYOUTS[layout].map((queues) =>
      queues === undefined ? spawnService('worker', env) : spawnService('worker', env, { args: ['--queues', queues], name: `worker --queues ${queues}` }),
    ),
  );
}

/** The bare Fastify server; resolves with its base URL. */
export async function spawnNoop(port: number): Promise<{ child: Child; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', NOOP], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('exit', (code) => reject(new Error(`no-op server exited with ${code}`)));
  });
  return { child: track('noop', child), url };
}

/** Waits until GET /readyz answers 200. */
export async function waitReady(baseUrl: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${baseUrl}/readyz`);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${baseUrl} not ready in time`);
    await sleep(200);
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
