import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { DerivedState } from '../domain/customer/customer-state.ts';
import { packDigest, type CustomerDigest, type PackedDigest } from '../domain/facts/digest.ts';
import type { DbOrTx } from '../store/db.ts';

export interface CustomerUpdate {
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

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toUpdate(id: string, d: DerivedState, digest: CustomerDigest, now: Date, sequence: number): CustomerUpdate {
  const update: CustomerUpdate = {
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
    ...predictionColumns(d),
    computed_at: now.toISOString(),
    sequence,
    state_hash: '',
  };
  update.state_hash = stateHash(update);
  return update;
}

/**
 * A fingerprint of everything an update stores except what only moves with the clock: when it was
 * computed, and the two metrics measured up to now (`recency_days`, `tenure_days`, which the API
 * measures up to the request instead). A recompute whose fingerprint equals the stored one would
 * store nothing new, so it writes nothing.
 */
function stateHash(u: CustomerUpdate): string {
  const metrics = Object.assign({}, u.metrics, { recency_days: null, tenure_days: null });
  const stable = Object.assign({}, u, { metrics, computed_at: null, state_hash: null });
  return createHash('sha1').update(JSON.stringify(stable)).digest('base64url');
}

function predictionColumns(d: DerivedState): Pick<CustomerUpdate, 'p_alive' | 'expected_orders_90d' | 'clv_12m'> {
  return { p_alive: d.predictions?.p_alive ?? null, expected_orders_90d: d.predictions?.expected_orders_90d ?? null, clv_12m: d.predictions?.clv_12m ?? null };
}

/**
 * One statement for the whole batch. Each row is written only if its stored fingerprint is still
 * `previous_hash`, the one the update was derived from (a rescore reads without row locks); the
 * ids written come back.
 */
export async function writeUpdates(tx: DbOrTx, updates: (CustomerUpdate & { previous_hash: string | null })[]): Promise<Set<string>> {
  if (updates.length === 0) return new Set();
  const written = await tx.execute<{ id: string }>(sql`
    update customers c set
      metrics = x.metrics, digest = x.digest, order_count = x.order_count, net_revenue = x.net_revenue, last_order_at = x.last_order_at,
      region = x.region, preferred_channel = x.preferred_channel, price_sensitivity = x.price_sensitivity,
      r_score = x.r_score, f_score = x.f_score, m_score = x.m_score, value_score = x.value_score,
      rfm_segment = x.rfm_segment, abc_class = x.abc_class, tier = x.tier,
      pending_tier = x.pending_tier, pending_since = x.pending_since, lifecycle_stage = x.lifecycle_stage,
      at_risk = x.at_risk, at_risk_since = x.at_risk_since, at_risk_reasons = x.at_risk_reasons,
      next_review_at = x.next_review_at, computed_at = x.computed_at, sequence = x.sequence,
      p_alive = x.p_alive, expected_orders_90d = x.expected_orders_90d, clv_12m = x.clv_12m, state_hash = x.state_hash
    from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb) as x(
      id text, metrics jsonb, digest jsonb, order_count int, net_revenue numeric, last_order_at timestamptz,
      region text, preferred_channel text, price_sensitivity text,
      r_score smallint, f_score smallint, m_score smallint, value_score smallint,
      rfm_segment text, abc_class text, tier text, pending_tier text, pending_since timestamptz,
      lifecycle_stage text, at_risk boolean, at_risk_since timestamptz, at_risk_reasons jsonb,
      next_review_at timestamptz, computed_at timestamptz, sequence bigint,
      p_alive float8, expected_orders_90d float8, clv_12m numeric, state_hash text, previous_hash text)
    where c.id = x.id and c.state_hash is not distinct from x.previous_hash
    returning c.id`);
  return new Set(written.rows.map((r) => r.id));
}
