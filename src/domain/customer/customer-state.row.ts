import { createHash } from 'node:crypto';
import type { DerivedState } from './customer-state.ts';
import { packDigest, type CustomerDigest, type PackedDigest } from '../facts/digest.ts';

/**
 * A customer's derived state as one row of the `customers` table: the one declaration of what a
 * recompute stores. STATE_COLUMNS gives each field's SQL type; the store writes a batch of these
 * rows from it (store/customers.state.repo.ts), and a store test checks it against the drizzle table.
 */
export interface CustomerStateRow {
  id: string;
  metrics: unknown;
  digest: PackedDigest;
  order_count: number;
  net_revenue: string;
  last_order_at: string | null;
  region: string | null;
  preferred_channel: string | null;
  price_sensitivity: string | null;
  r_score: number | null;
  f_score: number | null;
  m_score: number | null;
  value_score: number | null;
  rfm_segment: string | null;
  abc_class: string | null;
  tier: string | null;
  pending_tier: string | null;
  pending_since: string | null;
  lifecycle_stage: string;
  at_risk: boolean;
  at_risk_since: string | null;
  at_risk_reasons: unknown;
  next_review_at: string | null;
  p_alive: number | null;
  expected_orders_90d: number | null;
  clv_12m: string | null;
  computed_at: string;
  sequence: number;
  state_hash: string;
}

export type StateColumnType = 'text' | 'jsonb' | 'integer' | 'smallint' | 'bigint' | 'numeric' | 'double precision' | 'boolean' | 'timestamptz';

/** Every stored field but the key, with its SQL type; `satisfies` keeps it in step with CustomerStateRow. */
export const STATE_COLUMNS = {
  metrics: 'jsonb',
  digest: 'jsonb',
  order_count: 'integer',
  net_revenue: 'numeric',
  last_order_at: 'timestamptz',
  region: 'text',
  preferred_channel: 'text',
  price_sensitivity: 'text',
  r_score: 'smallint',
  f_score: 'smallint',
  m_score: 'smallint',
  value_score: 'smallint',
  rfm_segment: 'text',
  abc_class: 'text',
  tier: 'text',
  pending_tier: 'text',
  pending_since: 'timestamptz',
  lifecycle_stage: 'text',
  at_risk: 'boolean',
  at_risk_since: 'timestamptz',
  at_risk_reasons: 'jsonb',
  next_review_at: 'timestamptz',
  p_alive: 'double precision',
  expected_orders_90d: 'double precision',
  clv_12m: 'numeric',
  computed_at: 'timestamptz',
  sequence: 'bigint',
  state_hash: 'text',
} as const satisfies { [K in Exclude<keyof CustomerStateRow, 'id'>]: StateColumnType };

// Fails to compile when CustomerStateRow gains a field STATE_COLUMNS lacks.
type MissingColumns = Exclude<Exclude<keyof CustomerStateRow, 'id'>, keyof typeof STATE_COLUMNS>;
const allColumnsDeclared: MissingColumns extends never ? true : never = true;
void allColumnsDeclared;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toStateRow(id: string, d: DerivedState, digest: CustomerDigest, now: Date, sequence: number): CustomerStateRow {
  const row: CustomerStateRow = {
    id,
    metrics: d.metrics,
    digest: packDigest(digest),
    order_count: d.metrics.order_count,
    net_revenue: d.metrics.net_revenue,
    last_order_at: iso(d.metrics.last_order_at),
    region: d.metrics.region,
    preferred_channel: d.metrics.preferred_channel,
    price_sensitivity: d.metrics.price_sensitivity,
    r_score: d.scores?.r_score ?? null,
    f_score: d.scores?.f_score ?? null,
    m_score: d.scores?.m_score ?? null,
    value_score: d.scores?.value_score ?? null,
    rfm_segment: d.rfm_segment,
    abc_class: d.abc_class,
    tier: d.tier,
    pending_tier: d.pending_tier,
    pending_since: iso(d.pending_since),
    lifecycle_stage: d.lifecycle_stage,
    at_risk: d.at_risk.flagged,
    at_risk_since: iso(d.at_risk.since),
    at_risk_reasons: d.at_risk.reasons,
    next_review_at: iso(d.next_review_at),
    p_alive: d.predictions?.p_alive ?? null,
    expected_orders_90d: d.predictions?.expected_orders_90d ?? null,
    clv_12m: d.predictions?.clv_12m ?? null,
    computed_at: now.toISOString(),
    sequence,
    state_hash: '',
  };
  row.state_hash = stateHash(row);
  return row;
}

/**
 * A fingerprint of everything a row stores except what only moves with the clock: when it was
 * computed, and the two metrics measured up to now (`recency_days`, `tenure_days`, which the API
 * measures up to the request instead). A recompute whose fingerprint equals the stored one would
 * store nothing new, so it writes nothing.
 */
function stateHash(row: CustomerStateRow): string {
  const metrics = Object.assign({}, row.metrics, { recency_days: null, tenure_days: null });
  const stable = Object.assign({}, row, { metrics, computed_at: null, state_hash: null });
  return createHash('sha1').update(JSON.stringify(stable)).digest('base64url');
}
