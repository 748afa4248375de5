import type { z } from 'zod';
import type { AtRiskParams, LifecycleParams } from '../lifecycle/lifecycle.types.ts';
import { PRESET_TIERS } from './policy.presets.ts';
import {
  tierPolicyDocumentSchema,
  tierPolicyPresetSchema,
  type TierPolicyInput,
} from './policy.schema.ts';
import { formatPath } from '../events/field-problem.ts';
import { evaluateRule, type RuleError, type RuleRecord } from '../rules/rules.ts';
import type { ValueWeights } from '../scoring/scores.ts';

export * from './policy.schema.ts';
export { applyDowngradeGrace, tierDirection } from './policy.grace.ts';
export type { DowngradeGraceInput, DowngradeGraceResult } from './policy.grace.ts';
export { PRESET_TIERS } from './policy.presets.ts';

export type { Playbook, Tier } from './policy.types.ts';
import type { Tier } from './policy.types.ts';

// Exactly the full-document form of the PUT body, so a GET response can be edited and PUT back.
export interface TierPolicy {
  tiers: Tier[];
  weights: ValueWeights;
  downgrade_grace_days: number;
  lifecycle: LifecycleParams;
  at_risk: AtRiskParams;
}

export function resolvePolicy(input: TierPolicyInput): TierPolicy {
  const { weights, downgrade_grace_days, lifecycle, at_risk } = input;
  const tiers = 'preset' in input ? PRESET_TIERS[input.preset] : (input.tiers as Tier[]);
  // A deep copy, so nobody can mutate the shared presets through a resolved policy.
  return structuredClone({ tiers: [...tiers], weights, downgrade_grace_days, lifecycle, at_risk });
}

export const DEFAULT_POLICY: TierPolicy = resolvePolicy(tierPolicyPresetSchema.parse({ preset: 'rfm-value' }));

// Dispatches on `preset` instead of trying both shapes, so errors describe the shape that was meant.
export function parsePolicy(input: unknown): { ok: true; policy: TierPolicy } | { ok: false; errors: RuleError[] } {
  const isPreset = typeof input === 'object' && input !== null && 'preset' in input;
  const result = (isPreset ? tierPolicyPresetSchema : tierPolicyDocumentSchema).safeParse(input);
  if (result.success) return { ok: true, policy: resolvePolicy(result.data) };
  return { ok: false, errors: zodErrors(result.error) };
}

export function zodErrors(error: z.ZodError): RuleError[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...path, key]), message: `unknown key '${key}'` }));
    }
    return [{ path: formatPath(path), message: issue.message }];
  });
}

export interface TierMatch {
  key: string;
  /** index of the tier whose rule matched; null when the fallback (last) tier applies */
  ruleIndex: number | null;
}

/** first tier whose rule matches, else the last; null for prospects */
export function matchTier(policy: TierPolicy, record: RuleRecord): TierMatch | null {
  if (record.order_count === 0) return null;
  const index = policy.tiers.findIndex((t) => t.rule !== null && evaluateRule(t.rule, record));
  const tier = index >= 0 ? policy.tiers[index] : policy.tiers.at(-1);
  if (!tier) return null;
  return { key: tier.key, ruleIndex: index >= 0 ? index : null };
}

export function qualifyingTier(policy: TierPolicy, record: RuleRecord): string | null {
  return matchTier(policy, record)?.key ?? null;
}

export function tierKeys(policy: TierPolicy): string[] {
  return policy.tiers.map((t) => t.key);
}

export function findTier(policy: TierPolicy, key: string | null): Tier | null {
  return key === null ? null : (policy.tiers.find((t) => t.key === key) ?? null);
}
