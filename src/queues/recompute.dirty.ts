import type { Redis } from 'ioredis';

/**
 * Customers waiting for a recompute live in Redis, spread over a fixed number of shards: per shard
 * a sorted set in first-request order and a hash of each customer's latest request stamp (`counts`,
 * a number drawn from one counter, so every request changes it). Asking again for a customer
 * already waiting only restamps it, so 1,000 events for one customer leave one entry; a drain
 * takes up to a batch of entries at once and removes each only if its stamp is unchanged, so a
 * request that arrives while the batch is being recomputed keeps the customer waiting.
 */
export const RECOMPUTE_SHARDS = 8;

export interface DirtyKeys {
  order: string;
  counts: string;
  seq: string;
}

export function dirtyKeys(prefix: string, shard: number): DirtyKeys {
  const base = `${prefix}:recompute:dirty:${shard}`;
  return { order: `${base}:order`, counts: `${base}:counts`, seq: `${prefix}:recompute:dirty:seq` };
}

/** FNV-1a: a stable shard for an id, the same in every process. */
export function shardOf(customerId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < customerId.length; i++) {
    h ^= customerId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % RECOMPUTE_SHARDS;
}

// KEYS: order, counts, seq. ARGV: customer ids. NX keeps a waiting customer's place in line. One
// variadic ZADD and HSET per 1,000 ids (unpack's stack has room for a few thousand values): a
// redis.call per id made marking a 1,000-event job cost about as much as half its insert.
const MARK = `
local base = redis.call('INCRBY', KEYS[3], #ARGV) - #ARGV
for from = 1, #ARGV, 1000 do
  local zadd, hset = {}, {}
  for i = from, math.min(from + 999, #ARGV) do
    zadd[#zadd + 1] = base + i
    zadd[#zadd + 1] = ARGV[i]
    hset[#hset + 1] = ARGV[i]
    hset[#hset + 1] = base + i
  end
  redis.call('ZADD', KEYS[1], 'NX', unpack(zadd))
  redis.call('HSET', KEYS[2], unpack(hset))
end
return #ARGV`;

// KEYS: order, counts. ARGV: limit. Returns ids and their stamps, oldest first.
const TAKE = `
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return {{}, {}} end
return {ids, redis.call('HMGET', KEYS[2], unpack(ids))}`;

// KEYS: order, counts. ARGV: id1, stamp1, id2, stamp2, … Removes the ids nobody asked for again.
const DONE = `
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    removed = removed + 1
  end
end
return removed`;

/** Marks customers as needing a recompute; returns the shards that got any. */
export async function markDirty(redis: Redis, prefix: string, customerIds: Iterable<string>): Promise<number[]> {
  const byShard = new Map<number, string[]>();
  for (const id of new Set(customerIds)) {
    const shard = shardOf(id);
    const list = byShard.get(shard);
    if (list) list.push(id);
    else byShard.set(shard, [id]);
  }
  const pipeline = redis.pipeline();
  for (const [shard, ids] of byShard) {
    const keys = dirtyKeys(prefix, shard);
    pipeline.eval(MARK, 3, keys.order, keys.counts, keys.seq, ...ids);
  }
  const results = await pipeline.exec();
  for (const [err] of results ?? []) if (err) throw err;
  return [...byShard.keys()];
}

export interface DirtyBatch {
  ids: string[];
  counts: string[];
}

export async function takeDirty(redis: Redis, prefix: string, shard: number, limit: number): Promise<DirtyBatch> {
  const keys = dirtyKeys(prefix, shard);
  const [ids, counts] = (await redis.eval(TAKE, 2, keys.order, keys.counts, limit)) as [string[], string[]];
  return { ids, counts };
}

export async function finishDirty(redis: Redis, prefix: string, shard: number, batch: DirtyBatch): Promise<number> {
  if (batch.ids.length === 0) return 0;
  const keys = dirtyKeys(prefix, shard);
  const args = batch.ids.flatMap((id, i) => [id, batch.counts[i]!]);
  return (await redis.eval(DONE, 2, keys.order, keys.counts, ...args)) as number;
}

/** Every customer waiting for a recompute, per shard in first-request order. */
export async function listDirty(redis: Redis, prefix: string): Promise<string[]> {
  const all: string[] = [];
  for (let shard = 0; shard < RECOMPUTE_SHARDS; shard++) all.push(...(await redis.zrange(dirtyKeys(prefix, shard).order, '0', '-1')));
  return all;
}

export async function countDirty(redis: Redis, prefix: string): Promise<number> {
  const pipeline = redis.pipeline();
  for (let shard = 0; shard < RECOMPUTE_SHARDS; shard++) pipeline.zcard(dirtyKeys(prefix, shard).order);
  const results = (await pipeline.exec()) ?? [];
  return results.reduce((sum, [err, n]) => {
    if (err) throw err;
    return sum + (n as number);
  }, 0);
}
