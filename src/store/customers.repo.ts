import { eq } from 'drizzle-orm';
import type { CustomerView } from '../api/customers.schemas.ts';
import type { DbOrTx } from './db.ts';
import { customers } from './schema.ts';
import { membershipOf } from './segments.repo.ts';
import { metricsAsOf } from '../domain/metrics.ts';
import { moneyString } from '../domain/money.ts';

type CustomerRow = typeof customers.$inferSelect;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** The API shape of a stored customer, with the metrics that grow with time measured up to `now` (metricsAsOf). */
export function presentCustomer(row: CustomerRow, now: Date, playbook: CustomerView['playbook'] = null, segments: string[] = []): CustomerView {
  const scored = row.rScore !== null && row.fScore !== null && row.mScore !== null && row.valueScore !== null;
  return {
    id: row.id,
    traits: row.traits,
    created_at: row.createdAt.toISOString(),
    metrics: row.metrics && metricsAsOf(row.metrics, now),
    scores: scored ? { r_score: row.rScore!, f_score: row.fScore!, m_score: row.mScore!, value_score: row.valueScore! } : null,
    rfm_segment: row.rfmSegment,
    abc_class: row.abcClass as CustomerView['abc_class'],
    tier: row.tier,
    lifecycle_stage: row.lifecycleStage,
    at_risk: {
      flagged: row.atRisk,
      since: iso(row.atRiskSince),
      reasons: row.atRiskReasons as CustomerView['at_risk']['reasons'],
    },
    predictions: presentPredictions(row),
    segments: [...segments].sort(),
    playbook,
    next_review_at: iso(row.nextReviewAt),
    computed_at: iso(row.computedAt),
    sequence: row.sequence,
  };
}

// Null until a model is in force and without a model purchase (a prospect whose only orders are free
// still has predictions); p_alive is never null when anything was predicted.
function presentPredictions(row: CustomerRow): CustomerView['predictions'] {
  if (row.pAlive === null && row.expectedOrders90d === null && row.clv12m === null) return null;
  return { p_alive: row.pAlive, expected_orders_90d: row.expectedOrders90d, clv_12m: row.clv12m === null ? null : moneyString(row.clv12m) };
}

export async function findCustomer(db: DbOrTx, id: string, now: Date): Promise<CustomerView | undefined> {
  const [row] = await db.select().from(customers).where(eq(customers.id, id)).limit(1);
  if (!row) return undefined;
  return presentCustomer(row, now, null, (await membershipOf(db, [id])).get(id) ?? []);
}
