// The rule language (docs/architecture.md, Rules and segments): validation (parseRule) and in-memory evaluation (evaluateRule).
// The SQL compiler must agree with evaluateRule on every record; the semantics are documented
// where they are decided (rules.fields.ts for fields and ops, rules.evaluate.ts for nulls/types).
export * from './rules.types.ts';
export { evaluateRule } from './rules.evaluate.ts';
export { fieldSpec, OPS_BY_TYPE, readField, RULE_FIELDS, TRAIT_PREFIX } from './rules.fields.ts';
export type { FieldSpec, FieldType, Predictions, RuleRecord } from './rules.fields.ts';
export { parseRule, referencedSegments, ruleIssues } from './rules.parse.ts';
export type { ParseRuleOptions, PathSegment, RuleIssue } from './rules.parse.ts';
