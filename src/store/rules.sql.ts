// The rule language (docs/architecture.md, Rules and segments) compiled to SQL over the `customers` table. The compiled predicate
// selects exactly the rows whose rule record (buildRuleRecord over what the recompute wrote) passes
// evaluateRule — test/rules-sql.test.ts keeps the two equal with a seeded property test.
//
// Safety: every rule value and every trait key is a bound parameter. The only text spliced into
// the SQL comes from this file: operators from a fixed table and metric keys from the field
// catalog (checked against /^[a-z0-9_]+$/), so a rule cannot inject SQL.
//
// Semantics (rules.evaluate.ts) are two-valued while SQL is three-valued, so every leaf is wrapped
// to a never-null boolean — `(x is not null and <comparison>)` for scalar values (index-friendly),
// `coalesce(<comparison>, false)` for JSON ones — and `neq` / `nin` / `exists: false` are
// the negation of that wrapped result (a null value satisfies them, as in memory). `not`, `all` and
// `any` then combine plain booleans, so `not` negates the two-valued result.
import { sql, type SQL } from 'drizzle-orm';
import type { Metrics } from '../domain/facts/metrics.ts';
import { formatPath } from '../domain/events/field-problem.ts';
import { fieldSpec, ruleIssues, TRAIT_PREFIX, type Rule, type RuleCondition, type RuleOp } from '../domain/rules/rules.ts';
import { parseTimestamp } from '../domain/time.ts';
import { storableTextProblem } from '../domain/text.ts';
import { customers } from './schema.ts';

export interface CompileRuleContext {
  /** `recency_days` and `tenure_days` are measured up to this instant (the evaluator's `now`). */
  now: Date;
  /**
   * A text[] expression giving the saved-segment keys of the current `customers` row (e.g. a
   * correlated subquery). There is no membership table yet, so without it `segment` conditions
   * throw a RuleCompileError.
   */
  segmentsSql?: SQL;
}

export class RuleCompileError extends Error {
  constructor(
    message: string,
    /** where in the rule, e.g. `all[1].field` (empty for the whole rule) */
    readonly path: string = '',
  ) {
    super(message);
    this.name = 'RuleCompileError';
  }
}

/**
 * A boolean SQL expression over `customers` (never NULL) that holds exactly for the customers
 * `evaluateRule(rule, record)` accepts. Throws RuleCompileError for invalid rules and for `segment`
 * conditions when `ctx.segmentsSql` is not given.
 */
export function compileRule(rule: Rule, ctx: CompileRuleContext): SQL {
  const issues = ruleIssues(rule);
  const first = issues[0];
  if (first) throw new RuleCompileError(issues.map((i) => `${formatPath(i.path, 'rule')}: ${i.message}`).join('; '), formatPath(first.path));
  if (Number.isNaN(ctx.now.getTime())) throw new RuleCompileError('ctx.now is not a valid date');
  return compile(rule, ctx, '');
}

// ---------------------------------------------------------------------------------------------
// Field sources: where each catalog field lives and in which SQL type it is compared.

/**
 * int: an integer column (number values); numeric: exact decimal (money); float8: a stored JS
 * double, or a float computed in SQL exactly as JS computes it; timestamptz; text (no ordering:
 * strings and enums only have equality ops); boolean; jsonArray: a JSON array of strings
 * (top_categories); jsonAny: an untyped trait compared by JSON type.
 */
type Kind = 'int' | 'numeric' | 'float8' | 'timestamptz' | 'text' | 'boolean' | 'jsonArray' | 'jsonAny';

interface Source {
  kind: Kind;
  expr: SQL;
  /**
   * For values computed from an indexed column: a condition on that column implied by
   * `expr <op> v` (never narrower), and-ed to the exact comparison so an index can serve it.
   */
  impliedBy?: (op: 'gt' | 'gte' | 'lt' | 'lte' | 'eq', v: number) => SQL | null;
}

/** whole milliseconds since the epoch, as JS `Date#getTime()` (timestamps the app writes carry ms) */
const epochMs = (ts: SQL): SQL => sql`floor(extract(epoch from ${ts}) * 1000)`;

/**
 * `ageDays(at, now)` = (now − at) / 86 400 000 in float8: both operands are integers below 2^53, so
 * the subtraction is exact and the IEEE division rounds exactly as JS does.
 */
function ageDaysSql(ts: SQL, ctx: CompileRuleContext): SQL {
  return sql`((${String(ctx.now.getTime())}::float8 - (${epochMs(ts)})::float8) / 86400000::float8)`;
}

/**
 * recency_days = (now − last_order_at) / 1 day falls as last_order_at rises, so a bound on it is a
 * range of last_order_at. The range is widened by a day on purpose: float rounding can never move
 * a row across it, and the exact float8 comparison next to it still decides. Values too far out
 * to be a timestamp get no range (the exact comparison alone is still right).
 */
function lastOrderRange(op: 'gt' | 'gte' | 'lt' | 'lte' | 'eq', v: number, ctx: CompileRuleContext): SQL | null {
  if (!(Math.abs(v) <= 1e6)) return null;
  const now = ctx.now.getTime();
  const DAY = 86_400_000;
  if (Math.abs(now) > 8e15) return null;
  const latest = sql`${customers.lastOrderAt} <= ${pgTimestamp(now - Math.floor(v * DAY) + DAY)}::timestamptz`;
  const earliest = sql`${customers.lastOrderAt} >= ${pgTimestamp(now - Math.ceil(v * DAY) - DAY)}::timestamptz`;
  if (op === 'gt' || op === 'gte') return latest;
  if (op === 'lt' || op === 'lte') return earliest;
  return sql`${earliest} and ${latest}`;
}

// Typed against Metrics so a new metric cannot be forgotten here (mirrors rules.fields.ts). Every
// metric is a column of its own (docs/architecture.md, Storage) but the two measured up to now.
const METRIC_SOURCES: { [K in keyof Metrics]: (ctx: CompileRuleContext) => Source } = {
  order_count: () => ({ kind: 'int', expr: sql`${customers.orderCount}` }),
  net_revenue: () => ({ kind: 'numeric', expr: sql`${customers.netRevenue}` }),
  avg_order_value: () => ({ kind: 'numeric', expr: sql`${customers.avgOrderValue}` }),
  first_order_at: () => ({ kind: 'timestamptz', expr: sql`${customers.firstOrderAt}` }),
  last_order_at: () => ({ kind: 'timestamptz', expr: sql`${customers.lastOrderAt}` }),
  previous_order_at: () => ({ kind: 'timestamptz', expr: sql`${customers.previousOrderAt}` }),
  orders_365d: () => ({ kind: 'int', expr: sql`${customers.orders365d}` }),
  revenue_365d: () => ({ kind: 'numeric', expr: sql`${customers.revenue365d}` }),
  // Measured up to ctx.now, not the snapshot taken at the last recompute.
  recency_days: (ctx) => ({
    kind: 'float8',
    expr: ageDaysSql(sql`${customers.lastOrderAt}`, ctx),
    impliedBy: (op, v) => lastOrderRange(op, v, ctx),
  }),
  // 0 when there is no event at all (metrics.ts); NULL only for a row never computed.
  tenure_days: (ctx) => ({
    kind: 'float8',
    expr: sql`(case when ${customers.computedAt} is null then null when ${customers.firstEventAt} is null then 0::float8 else ${ageDaysSql(sql`${customers.firstEventAt}`, ctx)} end)`,
  }),
  first_event_at: () => ({ kind: 'timestamptz', expr: sql`${customers.firstEventAt}` }),
  // Stored as float8, the JS double itself, so comparisons match the evaluator's.
  cadence_days: () => ({ kind: 'float8', expr: sql`${customers.cadenceDays}` }),
  distinct_categories: () => ({ kind: 'int', expr: sql`${customers.distinctCategories}` }),
  // null stored for none; a row never computed has no list at all.
  top_categories: () => ({
    kind: 'jsonArray',
    expr: sql`(case when ${customers.computedAt} is null then null else coalesce(${customers.topCategories}, '[]'::jsonb) end)`,
  }),
  discount_order_share: () => ({ kind: 'float8', expr: sql`${customers.discountOrderShare}` }),
  price_sensitivity: () => ({ kind: 'text', expr: sql`${customers.priceSensitivity}` }),
  preferred_channel: () => ({ kind: 'text', expr: sql`${customers.preferredChannel}` }),
  region: () => ({ kind: 'text', expr: sql`${customers.region}` }),
  interactions_90d: () => ({ kind: 'int', expr: sql`${customers.interactions90d}` }),
  complaints_90d: () => ({ kind: 'int', expr: sql`${customers.complaints90d}` }),
  last_interaction_at: () => ({ kind: 'timestamptz', expr: sql`${customers.lastInteractionAt}` }),
  satisfaction_avg: () => ({ kind: 'float8', expr: sql`${customers.satisfactionAvg}` }),
};

const OTHER_SOURCES: Readonly<Record<string, () => Source>> = {
  r_score: () => ({ kind: 'int', expr: sql`${customers.rScore}` }),
  f_score: () => ({ kind: 'int', expr: sql`${customers.fScore}` }),
  m_score: () => ({ kind: 'int', expr: sql`${customers.mScore}` }),
  value_score: () => ({ kind: 'int', expr: sql`${customers.valueScore}` }),
  rfm_segment: () => ({ kind: 'text', expr: sql`${customers.rfmSegment}` }),
  abc_class: () => ({ kind: 'text', expr: sql`${customers.abcClass}` }),
  tier: () => ({ kind: 'text', expr: sql`${customers.tier}` }),
  lifecycle_stage: () => ({ kind: 'text', expr: sql`${customers.lifecycleStage}` }),
  at_risk: () => ({ kind: 'boolean', expr: sql`${customers.atRisk}` }),
  // Stored as float8 (the JS double itself, so comparisons match the evaluator's) and clv as numeric.
  'predictions.p_alive': () => ({ kind: 'float8', expr: sql`${customers.pAlive}` }),
  'predictions.expected_orders_90d': () => ({ kind: 'float8', expr: sql`${customers.expectedOrders90d}` }),
  'predictions.clv_12m': () => ({ kind: 'numeric', expr: sql`${customers.clv12m}` }),
};

function sourceOf(field: string, ctx: CompileRuleContext, path: string): Source {
  if (field.startsWith(TRAIT_PREFIX) && field.length > TRAIT_PREFIX.length) {
    const key = field.slice(TRAIT_PREFIX.length);
    // A key Postgres cannot hold (NUL, lone surrogate) is on no stored customer; binding it would
    // fail (NUL) or be silently replaced by U+FFFD and match the wrong key.
    const expr = storable(key) ? sql`(${customers.traits} -> ${key}::text)` : sql`cast(null as jsonb)`;
    return { kind: 'jsonAny', expr };
  }
  if (Object.hasOwn(METRIC_SOURCES, field)) return METRIC_SOURCES[field as keyof Metrics](ctx);
  const other = Object.hasOwn(OTHER_SOURCES, field) ? OTHER_SOURCES[field] : undefined;
  if (other) return other();
  throw new RuleCompileError(`${path || 'field'}: field '${field}' cannot be compiled to SQL`, path);
}

// ---------------------------------------------------------------------------------------------
// Compilation

const FALSE = sql`false`;

function compile(rule: Rule, ctx: CompileRuleContext, path: string): SQL {
  if ('all' in rule) return combine(rule.all.map((r, i) => compile(r, ctx, `${path}all[${i}].`)), ' and ');
  if ('any' in rule) return combine(rule.any.map((r, i) => compile(r, ctx, `${path}any[${i}].`)), ' or ');
  if ('not' in rule) return sql`(not ${compile(rule.not, ctx, `${path}not.`)})`;
  return condition(rule, ctx, path);
}

function combine(parts: SQL[], op: ' and ' | ' or '): SQL {
  return sql`(${sql.join(parts, sql.raw(op))})`;
}

/**
 * never NULL: a comparison that is NULL (missing value, not comparable) counts as false. For
 * scalar sources a comparison with a bound (non-null) value is NULL exactly when the value is, so
 * `(x is not null and x = $1)` is used: unlike coalesce it keeps btree (and expression) indexes
 * usable. JSON comparisons can be NULL for other reasons (type mismatch) and take coalesce.
 */
function holds(src: Source | null, p: SQL | null): SQL {
  if (p === null) return FALSE;
  if (src === null || src.kind === 'jsonAny' || src.kind === 'jsonArray') return sql`coalesce(${p}, false)`;
  return sql`(${src.expr} is not null and ${p})`;
}
const negate = (p: SQL): SQL => sql`(not ${p})`;

function condition(c: RuleCondition, ctx: CompileRuleContext, path: string): SQL {
  const spec = fieldSpec(c.field);
  if (!spec) throw new RuleCompileError(`${path}field: unknown field '${c.field}'`, `${path}field`);
  if (spec.type === 'segment') return segmentCondition(c, ctx, path);
  const src = sourceOf(c.field, ctx, `${path}field`);
  const list = Array.isArray(c.value) ? (c.value as unknown[]) : [];
  switch (c.op) {
    case 'exists':
      return (c.value ?? true) === true ? present(src) : negate(present(src));
    case 'eq':
      return holds(src, equalsAny(src, [c.value], path));
    case 'neq':
      return negate(holds(src, equalsAny(src, [c.value], path)));
    case 'in':
      return holds(src, equalsAny(src, list, path));
    case 'nin':
      return negate(holds(src, equalsAny(src, list, path)));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return holds(src, ordered(src, c.op, c.value, path));
    case 'between': {
      const lo = ordered(src, 'gte', list[0], path);
      const hi = ordered(src, 'lte', list[1], path);
      return lo === null || hi === null ? FALSE : holds(src, sql`(${lo} and ${hi})`);
    }
    case 'contains':
      return holds(src, contains(src, c.value, path));
  }
}

/** `actual !== null` as a never-NULL boolean (a JSON null counts as missing) */
function present(src: Source): SQL {
  if (src.kind === 'jsonArray' || src.kind === 'jsonAny') return sql`(${src.expr} is not null and jsonb_typeof(${src.expr}) <> 'null')`;
  return sql`(${src.expr} is not null)`;
}

/** the value bound as a parameter of the source's SQL type; null when it can equal no stored value */
function param(src: Source, v: unknown, path: string): SQL | null {
  switch (src.kind) {
    case 'int':
      if (typeof v !== 'number') return null;
      // a bigint parameter keeps the comparison on the integer column (indexable)
      return Number.isSafeInteger(v) ? sql`${String(v)}::bigint` : sql`${numberText(v)}::numeric`;
    case 'numeric':
      return typeof v === 'number' || typeof v === 'string' ? sql`${numberText(v)}::numeric` : null;
    case 'float8':
      return typeof v === 'number' ? sql`${numberText(v)}::float8` : null;
    case 'timestamptz': {
      const ms = parseTimestamp(v);
      return ms === null ? null : sql`${pgTimestamp(ms)}::timestamptz`;
    }
    case 'text':
      return typeof v === 'string' && storable(v) ? sql`${v}::text` : null;
    case 'boolean':
      return typeof v === 'boolean' ? sql`${v}::boolean` : null;
    case 'jsonAny':
      // jsonb equality is exactly the evaluator's: same JSON type, numbers by value, strings by code
      // unit, booleans by value; a trait that is an array or object equals no rule value.
      return (typeof v === 'string' && storable(v)) || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))
        ? sql`${JSON.stringify(v)}::jsonb`
        : null;
    case 'jsonArray':
      throw new RuleCompileError(`${path}op: this field only supports contains and exists`, `${path}op`);
  }
}

function equalsAny(src: Source, values: unknown[], path: string): SQL | null {
  // an integer column compared with a non-integer number: compare it as numeric (bigint
  // parameters otherwise, so the comparison stays indexable)
  const asNumeric = src.kind === 'int' && values.some((v) => typeof v === 'number' && !Number.isSafeInteger(v));
  const target: Source = asNumeric ? { kind: 'numeric', expr: sql`(${src.expr})::numeric` } : src;
  const params = values.map((v) => param(target, v, path)).filter((p): p is SQL => p !== null);
  if (params.length === 0) return null;
  const expr = target.expr;
  if (params.length > 1) return sql`(${expr} in (${sql.join(params, sql`, `)}))`;
  const hint = typeof values[0] === 'number' ? src.impliedBy?.('eq', values[0]) : null;
  return hint ? sql`(${expr} = ${params[0]} and ${hint})` : sql`(${expr} = ${params[0]})`;
}

const OPERATORS: Record<'gt' | 'gte' | 'lt' | 'lte', SQL> = { gt: sql.raw('>'), gte: sql.raw('>='), lt: sql.raw('<'), lte: sql.raw('<=') };

function ordered(src: Source, op: 'gt' | 'gte' | 'lt' | 'lte', v: unknown, path: string): SQL | null {
  const operator = OPERATORS[op];
  switch (src.kind) {
    case 'int':
      if (typeof v !== 'number') return null;
      return Number.isSafeInteger(v) ? sql`(${src.expr} ${operator} ${String(v)}::bigint)` : sql`((${src.expr})::numeric ${operator} ${numberText(v)}::numeric)`;
    case 'numeric':
    case 'float8':
    case 'timestamptz': {
      const p = param(src, v, path);
      if (p === null) return null;
      const hint = typeof v === 'number' ? src.impliedBy?.(op, v) : null;
      return hint ? sql`(${src.expr} ${operator} ${p} and ${hint})` : sql`(${src.expr} ${operator} ${p})`;
    }
    case 'jsonAny':
      if (typeof v === 'number' && Number.isFinite(v)) {
        return sql`(case when jsonb_typeof(${src.expr}) = 'number' then (${src.expr})::numeric ${operator} ${numberText(v)}::numeric end)`;
      }
      if (typeof v === 'string') return sql`(case when jsonb_typeof(${src.expr}) = 'string' then ${stringOrder(sql`(${src.expr} #>> '{}')`, operator, v)} end)`;
      return null;
    case 'text':
    case 'boolean':
    case 'jsonArray':
      throw new RuleCompileError(`${path}op: op '${op}' does not apply to this field`, `${path}op`);
  }
}

/**
 * JS orders strings by UTF-16 code unit; COLLATE "C" orders UTF-8 bytes, i.e. by code point. The
 * two agree whenever the rule value has only code units 1–0xD7FF (the first difference then
 * decides the same way in both), which is the fast path. Otherwise (characters from U+E000 up,
 * astral characters, lone surrogates, NUL) both sides are compared as int[] of UTF-16 code units.
 */
function stringOrder(text: SQL, operator: SQL, v: string): SQL {
  if (/^[\u0001-\uD7FF]*$/.test(v)) return sql`(${text} collate "C" ${operator} ${v}::text)`;
  const units = `{${Array.from({ length: v.length }, (_, i) => v.charCodeAt(i)).join(',')}}`;
  return sql`(${utf16Units(text)} ${operator} ${units}::int[])`;
}

function utf16Units(text: SQL): SQL {
  return sql`array(select u from unnest(string_to_array(${text}, null)) with ordinality as ch(c, n),
    lateral unnest(case when ascii(ch.c) < 65536 then array[ascii(ch.c)]
      else array[55296 + ((ascii(ch.c) - 65536) >> 10), 56320 + ((ascii(ch.c) - 65536) & 1023)] end) with ordinality as cu(u, k)
    order by ch.n, cu.k)`;
}

/** `Array.isArray(actual) && actual.some((item) => item === value)`: top-level elements only */
function contains(src: Source, v: unknown, path: string): SQL | null {
  if (src.kind !== 'jsonArray' && src.kind !== 'jsonAny') throw new RuleCompileError(`${path}op: contains applies to array fields only`, `${path}op`);
  const ok = (typeof v === 'string' && storable(v)) || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v));
  if (!ok) return null;
  return sql`(case when jsonb_typeof(${src.expr}) = 'array' then ${src.expr} @> ${JSON.stringify([v])}::jsonb end)`;
}

function segmentCondition(c: RuleCondition, ctx: CompileRuleContext, path: string): SQL {
  if (!ctx.segmentsSql) {
    throw new RuleCompileError(`${path}field: segment membership is not supported in SQL yet (no membership table; pass ctx.segmentsSql)`, `${path}field`);
  }
  const keys = (c.op === 'in' || c.op === 'nin' ? (Array.isArray(c.value) ? (c.value as unknown[]) : []) : [c.value]).filter(
    (k): k is string => typeof k === 'string' && storable(k),
  );
  const hit = keys.length === 0 ? FALSE : holds(null, sql`(${ctx.segmentsSql}) && array[${sql.join(keys.map((k) => sql`${k}::text`), sql`, `)}]::text[]`);
  const ops: Partial<Record<RuleOp, SQL>> = { eq: hit, in: hit, neq: negate(hit), nin: negate(hit) };
  return ops[c.op] ?? FALSE;
}

// ---------------------------------------------------------------------------------------------
// Values

/** a string Postgres text/jsonb can hold as is: no NUL, no lone surrogate */
const storable = (s: string): boolean => storableTextProblem(s) === null;

/** a JSON number / decimal string as numeric input ("1e+21" and "12.50" are both accepted) */
function numberText(v: number | string): string {
  return typeof v === 'number' ? String(v) : v;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** an instant as a Postgres timestamptz literal, BC years included (ISO year 0 is 1 BC) */
function pgTimestamp(ms: number): string {
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  const bc = year <= 0;
  return (
    `${pad(bc ? 1 - year : year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}+00${bc ? ' BC' : ''}`
  );
}
