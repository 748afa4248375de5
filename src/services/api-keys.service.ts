import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Db } from '../store/db.ts';
import { findActiveKeyByHash, insertApiKey, revokeApiKey } from '../store/api-keys.repo.ts';

export const SCOPES = ['events:write', 'customers:read', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  keyId: string;
  scopes: readonly Scope[];
}

/** `admin` implies every scope. */
export function hasScope(principal: Principal, scope: Scope): boolean {
  return principal.scopes.includes('admin') || principal.scopes.includes(scope);
}

export const hashKey = (secret: string) => createHash('sha256').update(secret).digest('hex');

const CACHE_TTL_MS = 10_000;

/** Where revocations are announced to every replica, and how this one hears them. */
export interface RevocationChannel {
  /** Publishes on `channel` (the shared connection). */
  publisher: Pick<Redis, 'publish'>;
  /** A connection of its own, in subscriber mode for `channel`. */
  subscriber: Redis;
  channel: string;
}

/**
 * Resolves bearer secrets to principals. Lookups are cached for 10 s so ingest at thousands of
 * requests per second costs no database round trip. A revocation is published on Redis
 * (`revocations.channel`) and every replica evicts the key from its cache on receipt, so it is
 * refused everywhere within a round trip. While this replica is not subscribed (Redis down, a
 * reconnect) it does not trust its cache and asks the database on every request, and the cache
 * is emptied when the subscription comes back, as messages sent meanwhile are lost.
 */
export function createKeyStore(db: Db, adminKey: string | undefined, options: { now?: () => number; revocations?: RevocationChannel } = {}) {
  const now = options.now ?? Date.now;
  const { revocations } = options;
  const adminHash = adminKey ? Buffer.from(hashKey(adminKey), 'hex') : null;
  const cache = new Map<string, { principal: Principal | null; expires: number }>();
  let listening = revocations === undefined;

  if (revocations) {
    const { subscriber, channel } = revocations;
    subscriber.on('message', (from: string, hash: string) => {
      if (from === channel) cache.delete(hash);
    });
    // ioredis subscribes again by itself after a reconnect.
    let subscribed = false;
    subscriber.on('ready', () => {
      cache.clear();
      listening = subscribed;
    });
    for (const lost of ['close', 'reconnecting', 'end']) subscriber.on(lost, () => (listening = false));
    // Not awaited: with Redis down the API still starts, and stays uncached until subscribed.
    subscriber.subscribe(channel).then(() => (subscribed = listening = true), () => {});
  }

  async function authenticate(secret: string): Promise<Principal | null> {
    const hash = hashKey(secret);
    if (adminHash && timingSafeEqual(adminHash, Buffer.from(hash, 'hex'))) {
      return { keyId: 'admin-bootstrap', scopes: ['admin'] };
    }
    const hit = cache.get(hash);
    if (hit && listening && hit.expires > now()) return hit.principal;
    const row = await findActiveKeyByHash(db, hash);
    const principal = row ? { keyId: row.id, scopes: row.scopes as Scope[] } : null;
    if (cache.size > 10_000) cache.clear();
    cache.set(hash, { principal, expires: now() + CACHE_TTL_MS });
    return principal;
  }

  async function create(name: string, scopes: Scope[]) {
    const secret = `tw_${randomBytes(32).toString('base64url')}`;
    const row = await insertApiKey(db, {
      id: `key_${randomBytes(9).toString('base64url')}`,
      name,
      keyHash: hashKey(secret),
      scopes,
    });
    return { row, secret };
  }

  async function revoke(id: string): Promise<boolean> {
    const hash = await revokeApiKey(db, id, new Date(now()));
    if (hash) {
      cache.delete(hash);
      // Should Redis be unreachable, other replicas still drop the key within the cache's 10 s.
      await revocations?.publisher.publish(revocations.channel, hash).catch(() => {});
    }
    return hash !== undefined;
  }

  return { authenticate, create, revoke };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
