import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { ClientContext, Redis, Result } from 'ioredis';
import type { Logger } from 'pino';

/** Adds this process's new requests to a key's window in Redis; returns the window's total and its remaining ms. */
const SYNC_SCRIPT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {n, ttl}`;

declare module 'ioredis' {
  interface RedisCommander<Context extends ClientContext> {
    rateLimitSync(key: string, add: number, windowMs: number): Result<[number, number], Context>;
  }
}

/** One key's fixed window as this process sees it. */
interface Window {
  /** Local instant (ms) the window ends, Redis's own once read from there. */
  resetAt: number;
  windowMs: number;
  /** Requests this process counted in the window. */
  local: number;
  /** Of those, how many were sent to Redis (in flight included). */
  sent: number;
  /** Requests other processes counted in the window, as of the last read from Redis. */
  others: number;
  /** When Redis last answered (or failed to); -Infinity before the first read. */
  checkedAt: number;
  inFlight: boolean;
  /** Requests held until the window is first read from Redis: their place in `local`, and their answer. */
  waiting: { ordinal: number; cb: Answer }[] | undefined;
}

type Answer = Parameters<FastifyRateLimitStore['incr']>[1];

/** Windows kept for keys seen at most; past that, ended windows are forgotten. */
const MAX_KEYS = 10_000;

/**
 * A fixed-window rate-limit store for @fastify/rate-limit that counts in this process and keeps
 * Redis (one counter per key and window, as the plugin's own Redis store) in step every `syncMs`,
 * so a request costs no Redis round trip of its own under load. A request whose key this process
 * has not read from Redis for 2 × `syncMs` (the first of a window, or after a pause) waits for one
 * read, with the requests arriving meanwhile; so a replica never decides on others' counts older
 * than that. The limit thus holds exactly on one replica and, across replicas, may be passed by
 * about what the replicas admit in one or two `syncMs`. While Redis is unreachable each replica
 * still limits its own requests.
 */
export function createRateLimitStore(redis: Redis, options: { nameSpace: string; syncMs: number; logger: Logger }) {
  const windows = new Map<string, Window>();
  let timer: NodeJS.Timeout | undefined;
  let syncing = false;
  let failing = false;
  let closed = false;
  redis.defineCommand('rateLimitSync', { numberOfKeys: 1, lua: SYNC_SCRIPT });

  /** Sends a window's unsent requests; resolves once Redis has answered (or failed). */
  async function send(key: string, w: Window): Promise<void> {
    const from = w.sent;
    const upTo = w.local;
    w.sent = upTo;
    w.inFlight = true;
    try {
      const [total, ttl] = await redis.rateLimitSync(options.nameSpace + key, upTo - from, w.windowMs);
      w.others = Math.max(0, total - upTo);
      w.resetAt = Date.now() + ttl;
      w.checkedAt = Date.now();
      if (failing) options.logger.info('rate limit counts reach Redis again');
      failing = false;
    } catch (err) {
      w.sent = from;
      w.checkedAt = Date.now();
      if (!failing) options.logger.warn({ err: (err as Error).message }, 'rate limit counts cannot reach Redis; limiting per process meanwhile');
      failing = true;
    } finally {
      w.inFlight = false;
    }
    const waiting = w.waiting;
    w.waiting = undefined;
    const ttl = Math.max(0, w.resetAt - Date.now());
    waiting?.forEach((r) => r.cb(null, { current: w.others + r.ordinal, ttl }));
  }

  /** Every `syncMs` while a window has unsent requests: sends them; forgets ended windows. */
  async function syncAll(): Promise<void> {
    timer = undefined;
    syncing = true;
    const now = Date.now();
    const sends: Promise<void>[] = [];
    for (const [key, w] of windows) {
      if (w.inFlight) continue;
      // An ended window's unsent requests are dropped: Redis may have started the next one.
      if (now >= w.resetAt) windows.delete(key);
      else if (w.local > w.sent) sends.push(send(key, w));
    }
    await Promise.all(sends);
    syncing = false;
    for (const w of windows.values()) {
      if (w.local > w.sent) return arm();
    }
  }

  function arm(): void {
    if (closed || timer || syncing) return;
    timer = setTimeout(() => void syncAll(), options.syncMs).unref();
  }

  function incr(key: string, cb: Answer, windowMs: number): void {
    const now = Date.now();
    let w = windows.get(key);
    if (!w || now >= w.resetAt) {
      if (windows.size >= MAX_KEYS) forgetEnded(now);
      w = { resetAt: now + windowMs, windowMs, local: 0, sent: 0, others: 0, checkedAt: -Infinity, inFlight: false, waiting: undefined };
      windows.set(key, w);
    }
    const ordinal = ++w.local;
    if (w.waiting || now - w.checkedAt > 2 * options.syncMs) {
      (w.waiting ??= []).push({ ordinal, cb });
      const stale = w;
      if (!stale.inFlight) void send(key, stale).then(() => stale.local > stale.sent && arm());
      return;
    }
    arm();
    cb(null, { current: w.others + ordinal, ttl: w.resetAt - now });
  }

  function forgetEnded(now: number): void {
    for (const [key, w] of windows) if (now >= w.resetAt && !w.inFlight) windows.delete(key);
  }

  /** The store class the plugin instantiates per registration; every instance shares these windows. */
  const Store: FastifyRateLimitStoreCtor = class implements FastifyRateLimitStore {
    incr = incr;
    child(): FastifyRateLimitStore {
      return this;
    }
  };

  return {
    Store,
    close(): void {
      closed = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
