import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { eventually } from './eventually.ts';
import { freePort } from './harness.ts';

/**
 * Private Postgres and Redis servers for fault tests: each lives in its own temporary directory
 * on its own port, so a test can stop and restart it without touching the servers other test
 * files share.
 */

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first directory holding every one of `names` as an executable: PATH, then the usual install places. */
function findBinDir(names: string[], extra: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...extra];
  return dirs.find((dir) => names.every((name) => executable(path.join(dir, name))));
}

/** Debian-style installs keep initdb and pg_ctl out of PATH, one directory per major version (newest first). */
function postgresInstallDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => path.join(root, v, 'bin'));
}

export const postgresBinDir = findBinDir(['initdb', 'pg_ctl', 'postgres'], ['/usr/local/bin', ...postgresInstallDirs()]);
export const redisBinDir = findBinDir(['redis-server'], ['/usr/local/bin', '/usr/bin']);

/**
 * initdb and postgres refuse to run as root: as root, run them as an unprivileged user that owns
 * the data directory (`postgres` when it exists, else `nobody`), through setpriv or runuser.
 */
function unprivileged(): { uid: number; gid: number; wrap: (cmd: string[]) => string[] } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    let ids: [number, number];
    try {
      ids = [Number(execFileSync('id', ['-u', user]).toString().trim()), Number(execFileSync('id', ['-g', user]).toString().trim())];
    } catch {
      continue;
    }
    const [uid, gid] = ids;
    const setpriv = findBinDir(['setpriv'], ['/usr/bin', '/bin']);
    if (setpriv) {
      return { uid, gid, wrap: (cmd) => [path.join(setpriv, 'setpriv'), `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', ...cmd] };
    }
    const runuser = findBinDir(['runuser'], ['/usr/sbin', '/sbin', '/usr/bin']);
    if (runuser) return { uid, gid, wrap: (cmd) => [path.join(runuser, 'runuser'), '-u', user, '--', ...cmd] };
  }
  throw new Error('running as root, but neither setpriv nor runuser can drop to an unprivileged user for Postgres');
}

/** Why the fault tests cannot run here, or undefined when both servers can be started. */
export function missingServers(): string | undefined {
  if (!postgresBinDir) return 'initdb/pg_ctl/postgres not found (PATH, /usr/local/bin, /usr/lib/postgresql/*/bin)';
  if (!redisBinDir) return 'redis-server not found (PATH, /usr/local/bin, /usr/bin)';
  return undefined;
}

/**
 * Runs a command without blocking the event loop (the service under test keeps working meanwhile),
 * in `cwd`: pg_ctl fails in a working directory its user cannot read.
 */
function run(cmd: string[], cwd: string, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd[0]!, cmd.slice(1), { cwd, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(cmd[0]!)} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface PrivatePostgres {
  /** The `postgres` database on this server (the harness creates the test's own database from it). */
  url: string;
  port: number;
  /** Stops the server: `immediate` kills it without a checkpoint (crash recovery on the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** Whether it was last started rather than stopped. */
  readonly running: boolean;
  /** Stops it if running and removes its directory. */
  destroy(): Promise<void>;
}

/**
 * Up to three tries: a port free when asked may be taken by another process before the server
 * binds it (each try starts afresh, in a new directory on a new port).
 */
async function withRetries<T>(start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

/** A new Postgres cluster in a temporary directory, started on a free port. */
export const startPrivatePostgres = () => withRetries(startPostgresOnce);

async function startPostgresOnce(): Promise<PrivatePostgres> {
  if (!postgresBinDir) throw new Error(`cannot start a private Postgres: ${missingServers()}`);
  const bin = (name: string) => path.join(postgresBinDir!, name);
  const user = unprivileged();
  // /tmp when dropping privileges: the user must reach the directory, and TMPDIR may be private to root.
  const dir = mkdtempSync(path.join(user ? '/tmp' : tmpdir(), 'tierwise-pg-'));
  const data = path.join(dir, 'data');
  const as = (cmd: string[]) => (user ? user.wrap(cmd) : cmd);
  if (user) chownSync(dir, user.uid, user.gid);
  try {
    await run(as([bin('initdb'), '-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']), dir);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  // fsync=off: the test stops the server process, never the machine, so what Postgres wrote (the
  // WAL of every commit included) is in the page cache and survives; only speed changes.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  let running = false;
  const server: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    get running() {
      return running;
    },
    async start() {
      await run(as([bin('pg_ctl'), '-D', data, '-o', options, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start']), dir);
      running = true;
    },
    async stop(mode = 'fast') {
      await run(as([bin('pg_ctl'), '-D', data, '-m', mode, '-w', '-t', '60', 'stop']), dir);
      running = false;
    },
    async destroy() {
      // Also when not known to be running: a start that timed out may have left a server behind.
      await server.stop('immediate').catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
    await eventually(async () => {
      const client = new pg.Client({ connectionString: server.url });
      try {
        await client.connect();
        await client.query('select 1');
        return true;
      } catch {
        return undefined;
      } finally {
        await client.end().catch(() => {});
      }
    }, 30_000, 'the private Postgres to answer');
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** SIGKILL: no shutdown save, what survives is what the append-only file holds. */
  kill(): Promise<void>;
  readonly running: boolean;
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** A redis-server with an fsync-always append-only file in a temporary directory, on a free port. */
export const startPrivateRedis = () => withRetries(startRedisOnce);

async function startRedisOnce(): Promise<PrivateRedis> {
  if (!redisBinDir) throw new Error(`cannot start a private Redis: ${missingServers()}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'tierwise-redis-'));
  const port = await freePort();
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--daemonize', 'no',
    '--maxmemory-policy', 'noeviction', '--logfile', path.join(dir, 'redis.log'),
  ];
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const answers = async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      // LOADING while the append-only file is replayed: not ready yet.
      return (await probe.ping()) === 'PONG' ? true : undefined;
    } catch {
      return undefined;
    } finally {
      probe.disconnect();
    }
  };
  const server: PrivateRedis = {
    url,
    port,
    get running() {
      return child !== undefined;
    },
    async start() {
      const proc = spawn(path.join(redisBinDir!, 'redis-server'), args, { stdio: 'ignore' });
      child = proc;
      const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}); see ${dir}/redis.log`))));
      exited.catch(() => {});
      await Promise.race([eventually(answers, 30_000, 'the private Redis to answer'), exited]);
    },
    async kill() {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await gone;
      child = undefined;
    },
    async destroy() {
      await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await server.start();
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}
