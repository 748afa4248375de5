export const RULE_OPS = ['eq', 'neq', 'in', 'nin', 'gt', 'gte', 'lt', 'lte', 'between', 'contains', 'exists'] as const;
export type RuleOp = (typeof RULE_OPS)[number];

/** a leaf: values stay as the JSON they came in (timestamps as RFC 3339 strings) */
export interface RuleCondition {
  field: string;
  op: RuleOp;
  value?: unknown;
}

export type Rule = RuleCondition | { all: Rule[] } | { any: Rule[] } | { not: Rule };

export const MAX_RULE_DEPTH = 6;
export const MAX_RULE_CONDITIONS = 100;

export interface RuleError {
  /** JSON-ish path such as `tiers[0].rule.all[1].value` */
  path: string;
  message: string;
}

export type RuleParseResult = { ok: true; rule: Rule } | { ok: false; errors: RuleError[] };
