import { z } from 'zod';
import { DEFAULT_AT_RISK, DEFAULT_LIFECYCLE } from '../lifecycle/lifecycle.types.ts';
import { ruleIssues } from '../rules/rules.ts';

export const TIER_KEY_PATTERN = /^[a-z0-9_-]{1,64}$/;
export const PRESET_NAMES = ['rfm-value', 'pareto-abc', 'frequency'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

// Tier rules decide the tier, so they may not depend on it, nor on segments (whose rules may
// depend on the tier).
export const TIER_RULE_FORBIDDEN_FIELDS = ['tier', 'segment'] as const;

// Day counts are capped at 100 years: beyond that they are typos, and instants overflow Date.
const days = () => z.number().min(0).max(36_500);

const playbookSchema = z.strictObject({
  summary: z.string().max(2000),
  actions: z.array(z.string().max(500)).max(50),
});

// The rule is kept as a plain object for the schema (and OpenAPI); parseRule does the real
// validation so its issues carry paths into the rule.
const ruleSchema = z
  .record(z.string(), z.unknown())
  .nullable()
  .default(null)
  .superRefine((rule, ctx) => {
    if (rule === null) return;
    for (const issue of ruleIssues(rule, TIER_RULE_FORBIDDEN_FIELDS)) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    }
  });

const tierSchema = z.strictObject({
  key: z.string().regex(TIER_KEY_PATTERN, 'key must be 1-64 characters of a-z, 0-9, _ or -'),
  name: z.string().min(1).max(200),
  rule: ruleSchema,
  playbook: playbookSchema.nullable().default(null),
});

const tiersSchema = z
  .array(tierSchema)
  .min(1)
  .max(100)
  .superRefine((tiers, ctx) => {
    const seen = new Set<string>();
    tiers.forEach((tier, i) => {
      if (seen.has(tier.key)) ctx.addIssue({ code: 'custom', message: `duplicate tier key '${tier.key}'`, path: [i, 'key'] });
      seen.add(tier.key);
      const last = i === tiers.length - 1;
      if (last && tier.rule !== null) {
        ctx.addIssue({ code: 'custom', message: 'the last tier must have rule: null (the fallback for buyers)', path: [i, 'rule'] });
      }
      if (!last && tier.rule === null) {
        ctx.addIssue({ code: 'custom', message: 'only the last tier may have rule: null', path: [i, 'rule'] });
      }
    });
  });

const weightsSchema = z
  .strictObject({
    r: z.number().min(0).default(1),
    f: z.number().min(0).default(1),
    m: z.number().min(0).default(1),
  })
  .refine((w) => w.r + w.f + w.m > 0, 'weights must not all be 0')
  .prefault({});

const lifecycleSchema = z
  .strictObject({
    lapsed_after_days: days().positive().default(DEFAULT_LIFECYCLE.lapsed_after_days),
    reactivated_window_days: days().default(DEFAULT_LIFECYCLE.reactivated_window_days),
    loyal_min_orders: z.number().int().min(1).default(DEFAULT_LIFECYCLE.loyal_min_orders),
    loyal_min_tenure_days: days().default(DEFAULT_LIFECYCLE.loyal_min_tenure_days),
  })
  .prefault({});

const atRiskSchema = z
  .strictObject({
    min_days: days().default(DEFAULT_AT_RISK.min_days),
    cadence_multiplier: z.number().positive().default(DEFAULT_AT_RISK.cadence_multiplier),
    one_time_buyer_days: days().default(DEFAULT_AT_RISK.one_time_buyer_days),
    complaints_90d_threshold: z.number().int().min(1).default(DEFAULT_AT_RISK.complaints_90d_threshold),
    max_satisfaction: z.number().min(0).max(5).default(DEFAULT_AT_RISK.max_satisfaction),
    p_alive_below: z.number().min(0).max(1).default(DEFAULT_AT_RISK.p_alive_below),
  })
  .prefault({});

const common = {
  weights: weightsSchema,
  downgrade_grace_days: days().default(0),
  lifecycle: lifecycleSchema,
  at_risk: atRiskSchema,
};

export const tierPolicyPresetSchema = z.strictObject({ preset: z.enum(PRESET_NAMES), ...common });
export const tierPolicyDocumentSchema = z.strictObject({ tiers: tiersSchema, ...common });

/** PUT /v1/tier-policy body (for OpenAPI); validate with parsePolicy for precise error paths */
export const tierPolicySchema = z.union([tierPolicyPresetSchema, tierPolicyDocumentSchema]);
export type TierPolicyInput = z.output<typeof tierPolicySchema>;
