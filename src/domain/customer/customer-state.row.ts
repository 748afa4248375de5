import { hash } from 'node:crypto';
import type { DerivedState } from './customer-state.ts';
import { serializeDigest, type CustomerDigest } from '../facts/digest.ts';
import { isoInstant } from '../time.ts';

/**
 * A customer's derived state as one row of the `customers` table: the one declaration of what a
 * recompute stores. STATE_COLUMNS gives each field's SQL type; the store writes a batch of these
 * rows from it (store/customers.state.repo.ts), and a store test checks it against the drizzle table.
 */
export interface CustomerStateRow {
  id: string;
  /** the packed digest as JSON text (domain/facts/digest.ts serializeDigest) */
  digest: string;
  avg_order_value: string | null;
  first_order_at: string | null;
  previous_order_at: string | null;
  orders_365d: number;
  revenue_365d: string;
  first_event_at: string | null;
  cadence_days: number | null;
  distinct_categories: number;
  top_categories: string[] | null;
  discount_order_share: number | null;
  interactions_90d: number;
  complaints_90d: number;
  last_interaction_at: string | null;
  satisfaction_avg: number | null;
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
  /** null for none, as top_categories */
  at_risk_reasons: unknown[] | null;
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
  digest: 'text',
  avg_order_value: 'numeric',
  first_order_at: 'timestamptz',
  previous_order_at: 'timestamptz',
  orders_365d: 'integer',
  revenue_365d: 'numeric',
  first_event_at: 'timestamptz',
  cadence_days: 'double precision',
  distinct_categories: 'integer',
  top_categories: 'jsonb',
  discount_order_share: 'double precision',
  interactions_90d: 'integer',
  complaints_90d: 'integer',
  last_interaction_at: 'timestamptz',
  satisfaction_avg: 'double precision',
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
  sequence: 'integer',
  state_hash: 'text',
} as const satisfies { [K in Exclude<keyof CustomerStateRow, 'id'>]: StateColumnType };

// Fails to compile when CustomerStateRow gains a field STATE_COLUMNS lacks.
type MissingColumns = Exclude<Exclude<keyof CustomerStateRow, 'id'>, keyof typeof STATE_COLUMNS>;
const allColumnsDeclared: MissingColumns extends never ? true : never = true;
void allColumnsDeclared;

/** A row while toStateRow builds it: computed_at and state_hash are set last. */
type RowInProgress = Omit<CustomerStateRow, 'computed_at' | 'state_hash'> & { computed_at: string | null; state_hash: string | null };

function iso(d: Date | null): string | null {
  return d ? isoInstant(d) : null;
}

export function toStateRow(id: string, d: DerivedState, digest: CustomerDigest, now: Date, sequence: number): CustomerStateRow {
  const m = d.metrics;
  // computed_at and state_hash are null while the fingerprint is taken (stateHash), then set.
  const row: RowInProgress = {
    id,
    digest: serializeDigest(digest),
    avg_order_value: m.avg_order_value,
    first_order_at: iso(m.first_order_at),
    previous_order_at: iso(m.previous_order_at),
    orders_365d: m.orders_365d,
    revenue_365d: m.revenue_365d,
    first_event_at: iso(m.first_event_at),
    cadence_days: m.cadence_days,
    distinct_categories: m.distinct_categories,
    top_categories: m.top_categories.length === 0 ? null : m.top_categories,
    discount_order_share: m.discount_order_share,
    interactions_90d: m.interactions_90d,
    complaints_90d: m.complaints_90d,
    last_interaction_at: iso(m.last_interaction_at),
    satisfaction_avg: m.satisfaction_avg,
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
    at_risk_reasons: d.at_risk.reasons.length === 0 ? null : d.at_risk.reasons,
    next_review_at: iso(d.next_review_at),
    p_alive: d.predictions?.p_alive ?? null,
    expected_orders_90d: d.predictions?.expected_orders_90d ?? null,
    clv_12m: d.predictions?.clv_12m ?? null,
    computed_at: null,
    sequence,
    state_hash: null,
  };
  const state_hash = stateHash(row);
  row.computed_at = isoInstant(now);
  row.state_hash = state_hash;
  return row as CustomerStateRow;
}

/**
 * A fingerprint of everything a row stores except when it was computed. The metrics that move
 * with the clock alone (`recency_days`, `tenure_days`) are not stored: the API measures them up to
 * the request. A recompute whose fingerprint equals the stored one would store nothing new, so it
 * writes nothing.
 */
function stateHash(row: RowInProgress): string {
  // The row's own JSON, taken while those two fields are still null.
  const text = JSON.stringify(row);
  // It only tells one customer's stored state from the state derived next, so 66 bits (11 base64url
  // characters: a chance below 10⁻¹⁹ per write of taking a changed state for the stored one) are
  // plenty, and the fingerprint is stored on every row.
  return hash('sha1', text, 'base64url').slice(0, 11);
}
