import { desc, eq, sql } from 'drizzle-orm';
import type { RfmRow } from '../domain/model/bgnbd.ts';
import type { SpendRow } from '../domain/model/gamma-gamma.ts';
import { utcDay, type ModelParams } from '../domain/model/predictions.ts';
import type { DbOrTx } from './db.ts';
import { modelFits } from './schema.ts';
import { countedOrdersAsOf } from './stats.repo.ts';

export interface FitInput {
  /** (x, t_x, T) in weeks, identical customers as one weighted row */
  rows: RfmRow[];
  /** repeat buyers' (x, mean repeat spend), identical ones as one weighted row */
  spend: SpendRow[];
}

/**
 * Every buyer's model summary as of `asOf`, computed and compressed in Postgres, so a million buyers
 * arrive as a few thousand weighted rows. Same rules as modelPurchases and summarizeOrders
 * (domain/model/predictions.ts): UTC days, same-day orders one purchase, the first purchase day excluded
 * from x and spend.
 */
export async function loadFitInput(db: DbOrTx, asOf: Date): Promise<FitInput> {
  const result = await db.execute<{ kind: 'f' | 's'; x: number; span: number | null; age: number | null; m: number | null; n: number }>(sql`
    with counted as (${countedOrdersAsOf(asOf, { freeOrders: true })}),
    days as (
      select customer_id, floor(extract(epoch from occurred_at) / 86400)::int as day, sum(net) as spend
      from counted group by 1, 2
    ),
    buyers as (
      select count(*)::int - 1 as x, max(day) - min(day) as span, ${utcDay(asOf)}::int - min(day) as age,
        sum(spend) - (array_agg(spend order by day))[1] as repeat_spend
      from days group by customer_id
    )
    select 'f' as kind, x, span, age, null::float8 as m, count(*)::int as n from buyers group by x, span, age
    union all
    select 's', x, null, null, (repeat_spend / x)::float8, count(*)::int from buyers where x > 0 group by x, repeat_spend`);
  const rows: RfmRow[] = [];
  const spend: SpendRow[] = [];
  for (const r of result.rows) {
    if (r.kind === 'f') rows.push({ x: r.x, t_x: r.span! / 7, T: r.age! / 7, weight: r.n });
    else spend.push({ x: r.x, m: r.m!, weight: r.n });
  }
  return { rows, spend };
}

export interface StoredFit {
  id: number;
  attemptedAt: Date;
  asOf: Date;
  /** fitted: the model in force from then on; evaluated: fitted, not activated; refused: see reason */
  status: 'fitted' | 'evaluated' | 'refused';
  reason: string | null;
  customers: number;
  params: ModelParams | null;
  durationMs: number;
}

export async function insertFit(db: DbOrTx, fit: Omit<StoredFit, 'id'>): Promise<StoredFit> {
  const [row] = await db
    .insert(modelFits)
    .values({ ...fit, params: fit.params as unknown as Record<string, Record<string, number>> | null })
    .returning();
  return toFit(row!);
}

/** The model in force: the newest activated successful fit (an evaluated one never replaces it). */
export async function currentFit(db: DbOrTx): Promise<StoredFit | undefined> {
  const [row] = await db.select().from(modelFits).where(eq(modelFits.status, 'fitted')).orderBy(desc(modelFits.id)).limit(1);
  return row ? toFit(row) : undefined;
}

export async function latestFitAttempt(db: DbOrTx): Promise<StoredFit | undefined> {
  const [row] = await db.select().from(modelFits).orderBy(desc(modelFits.id)).limit(1);
  return row ? toFit(row) : undefined;
}

function toFit(row: typeof modelFits.$inferSelect): StoredFit {
  return { ...row, params: row.params as unknown as ModelParams | null };
}
