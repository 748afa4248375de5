import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
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

/**
 * Resolves bearer secrets to principals. Lookups are cached for 10 s so ingest at thousands of
 * requests per second costs no database round trip; a revocation on another replica therefore
 * takes effect within 10 s (immediately on the replica that revoked it).
 */
export function createKeyStore(db: Db, adminKey: string | undefined, now: () => number = Date.now) {
  const adminHash = adminKey ? Buffer.from(hashKey(adminKey), 'hex') : null;
  const cache = new Map<string, { principal: Principal | null; expires: number }>();

  async function authenticate(secret: string): Promise<Principal | null> {
    const hash = hashKey(secret);
    if (adminHash && timingSafeEqual(adminHash, Buffer.from(hash, 'hex'))) {
      return { keyId: 'admin-bootstrap', scopes: ['admin'] };
    }
    const hit = cache.get(hash);
    if (hit && hit.expires > now()) return hit.principal;
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
    if (hash) cache.delete(hash);
    return hash !== undefined;
  }

  return { authenticate, create, revoke };
}

export type KeyStore = ReturnType<typeof createKeyStore>;
