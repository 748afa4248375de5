import type { Playbook } from '../policy/policy.types.ts';

/**
 * A customer as the API shows it: GET /v1/customers/{id} and every listing. The HTTP layer's zod
 * schema (http/customers.schemas.ts) is checked against this type when it compiles, and the store
 * writes this shape as JSON (store/customers.repo.ts customerJson).
 */
export interface CustomerView {
  id: string;
  traits: Record<string, unknown>;
  created_at: string;
  /** null until the first recompute */
  metrics: Record<string, unknown> | null;
  /** null for prospects (no counted order) */
  scores: { r_score: number; f_score: number; m_score: number; value_score: number } | null;
  rfm_segment: string | null;
  abc_class: 'A' | 'B' | 'C' | null;
  tier: string | null;
  lifecycle_stage: string | null;
  at_risk: { flagged: boolean; since: string | null; reasons: { code: string; detail: string; since: string | null }[] };
  /** null until a model is in force, and for a customer with no purchase the model counts */
  predictions: { p_alive: number | null; expected_orders_90d: number | null; clv_12m: string | null } | null;
  segments: string[];
  /** the customer ids merged into this one, in code point order */
  merged_ids: string[];
  playbook: Playbook | null;
  next_review_at: string | null;
  computed_at: string | null;
  sequence: number;
}
