import { desc, sql } from 'drizzle-orm';
import { DEFAULT_POLICY, type TierPolicy } from '../domain/policy/policy.ts';
import type { DbOrTx } from './db.ts';
import { tierPolicies } from './schema.ts';

export interface StoredPolicy {
  version: number;
  createdAt: Date;
  policy: TierPolicy;
}

/** The newest policy version; the built-in default (version 0) until one is saved. */
export async function currentPolicy(db: DbOrTx): Promise<StoredPolicy> {
  const [row] = await db.select().from(tierPolicies).orderBy(desc(tierPolicies.version)).limit(1);
  if (!row) return { version: 0, createdAt: new Date(0), policy: DEFAULT_POLICY };
  return { version: row.version, createdAt: row.createdAt, policy: row.document as unknown as TierPolicy };
}

export async function savePolicy(db: DbOrTx, policy: TierPolicy, now: Date): Promise<StoredPolicy> {
  const [row] = await db
    .insert(tierPolicies)
    .values({
      version: sql`(select coalesce(max(version), 0) + 1 from ${tierPolicies})`,
      document: policy as unknown as Record<string, unknown>,
      createdAt: now,
    })
    .returning();
  return { version: row!.version, createdAt: row!.createdAt, policy };
}
