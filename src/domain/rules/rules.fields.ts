import type { Predictions } from '../model/predictions.ts';
import { LIFECYCLE_STAGES, type LifecycleStage } from '../lifecycle/lifecycle.types.ts';
import { PRICE_SENSITIVITIES, type Metrics } from '../facts/metrics.ts';
import { ABC_CLASSES, RFM_SEGMENTS, type AbcClass, type RfmSegment } from '../scoring/scores.ts';
import type { RuleOp } from './rules.types.ts';

export type { Predictions };

/** everything a rule can look at; built by buildRuleRecord (customer-state.ts) */
export type RuleRecord = Metrics & {
  r_score: number | null;
  f_score: number | null;
  m_score: number | null;
  value_score: number | null;
  rfm_segment: RfmSegment | null;
  abc_class: AbcClass | null;
  tier: string | null;
  lifecycle_stage: LifecycleStage;
  at_risk: boolean;
  /** keys of the saved segments the customer is in (the `segment` field tests membership) */
  segments: string[];
  predictions: Predictions | null;
  traits: Record<string, unknown>;
};

// decimal = money string compared exactly; timestamp = Date compared by instant; any = an
// untyped trait compared by its JSON type.
export type FieldType = 'number' | 'decimal' | 'timestamp' | 'string' | 'string[]' | 'enum' | 'boolean' | 'segment' | 'any';

export interface FieldSpec {
  type: FieldType;
  values?: readonly string[];
}

const num: FieldSpec = { type: 'number' };
const dec: FieldSpec = { type: 'decimal' };
const ts: FieldSpec = { type: 'timestamp' };
const str: FieldSpec = { type: 'string' };

// Typed against Metrics so a new metric cannot be forgotten here.
const METRIC_FIELDS: { [K in keyof Metrics]: FieldSpec } = {
  order_count: num,
  net_revenue: dec,
  avg_order_value: dec,
  first_order_at: ts,
  last_order_at: ts,
  previous_order_at: ts,
  orders_365d: num,
  revenue_365d: dec,
  recency_days: num,
  tenure_days: num,
  first_event_at: ts,
  cadence_days: num,
  distinct_categories: num,
  top_categories: { type: 'string[]' },
  discount_order_share: num,
  price_sensitivity: { type: 'enum', values: PRICE_SENSITIVITIES },
  preferred_channel: str,
  region: str,
  interactions_90d: num,
  complaints_90d: num,
  last_interaction_at: ts,
  satisfaction_avg: num,
};

export const RULE_FIELDS: Readonly<Record<string, FieldSpec>> = {
  ...METRIC_FIELDS,
  r_score: num,
  f_score: num,
  m_score: num,
  value_score: num,
  rfm_segment: { type: 'enum', values: RFM_SEGMENTS },
  abc_class: { type: 'enum', values: ABC_CLASSES },
  tier: str,
  lifecycle_stage: { type: 'enum', values: LIFECYCLE_STAGES },
  at_risk: { type: 'boolean' },
  segment: { type: 'segment' },
  'predictions.p_alive': num,
  'predictions.expected_orders_90d': num,
  'predictions.clv_12m': dec,
};

export const TRAIT_PREFIX = 'traits.';

const ORDERED: readonly RuleOp[] = ['eq', 'neq', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'between', 'exists'];
const EQUALITY: readonly RuleOp[] = ['eq', 'neq', 'in', 'nin', 'exists'];

// Plain strings and enums get no ordering: "region > 'M'" is never what a marketer means, and
// collation would make SQL and memory disagree. Traits are free-form, so they get everything.
export const OPS_BY_TYPE: Readonly<Record<FieldType, readonly RuleOp[]>> = {
  number: ORDERED,
  decimal: ORDERED,
  timestamp: ORDERED,
  string: EQUALITY,
  enum: EQUALITY,
  boolean: ['eq', 'neq', 'exists'],
  'string[]': ['contains', 'exists'],
  segment: ['eq', 'neq', 'in', 'nin'],
  any: [...ORDERED, 'contains'],
};

/** null for unknown fields; `traits.<key>` takes the rest of the name as one top-level trait key */
export function fieldSpec(field: string): FieldSpec | null {
  if (field.startsWith(TRAIT_PREFIX)) return field.length > TRAIT_PREFIX.length ? { type: 'any' } : null;
  return Object.hasOwn(RULE_FIELDS, field) ? (RULE_FIELDS[field] ?? null) : null;
}

/** the field's value on a record, undefined folded into null (`segment` is not a value) */
export function readField(record: RuleRecord, field: string): unknown {
  if (field.startsWith(TRAIT_PREFIX)) {
    const key = field.slice(TRAIT_PREFIX.length);
    return Object.hasOwn(record.traits, key) ? (record.traits[key] ?? null) : null;
  }
  if (field.startsWith('predictions.')) {
    const key = field.slice('predictions.'.length) as keyof Predictions;
    return record.predictions?.[key] ?? null;
  }
  return (record as unknown as Record<string, unknown>)[field] ?? null;
}
