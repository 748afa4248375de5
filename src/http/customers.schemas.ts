import { z } from 'zod';
import type { CustomerView } from '../domain/customer/customer.view.ts';

const instant = z.string().describe('RFC 3339 UTC instant');

/** Money in every answer: formatMoney (domain/money.ts) in the deployment's CURRENCY. */
export const MONEY_FORMAT =
  'a decimal string in `CURRENCY` with at least its minor-unit digits ("129.90" in USD), more only when the stored value has them ("0.125")';
export const moneySchema = z.string().describe(`money: ${MONEY_FORMAT}`);

export const playbookSchema = z.object({ summary: z.string(), actions: z.array(z.string()) }).meta({ id: 'Playbook' });

export const atRiskSchema = z
  .object({
    flagged: z.boolean(),
    since: instant.nullable(),
    reasons: z.array(z.object({ code: z.string(), detail: z.string(), since: instant.nullable() })),
  })
  .meta({ id: 'AtRisk' });

export const customerSchema = z
  .object({
    id: z.string(),
    traits: z.record(z.string(), z.unknown()),
    created_at: instant,
    metrics: z.record(z.string(), z.unknown()).nullable().describe(`null until the first recompute; its money (net_revenue, avg_order_value, revenue_365d) is ${MONEY_FORMAT}`),
    scores: z
      .object({ r_score: z.number().int(), f_score: z.number().int(), m_score: z.number().int(), value_score: z.number().int() })
      .nullable()
      .describe('null for prospects (no counted order)'),
    rfm_segment: z.string().nullable(),
    abc_class: z.enum(['A', 'B', 'C']).nullable(),
    tier: z.string().nullable(),
    lifecycle_stage: z.string().nullable(),
    at_risk: atRiskSchema,
    predictions: z
      .object({ p_alive: z.number().nullable(), expected_orders_90d: z.number().nullable(), clv_12m: moneySchema.nullable() })
      .nullable()
      .describe('null until a model is in force, and for a customer with no purchase the model counts (free orders count)'),
    segments: z.array(z.string()),
    merged_ids: z.array(z.string()).describe('the customer ids merged into this one (docs/architecture.md, Identity); GET on any of them answers 308 here'),
    playbook: playbookSchema.nullable(),
    next_review_at: instant.nullable(),
    computed_at: instant.nullable(),
    sequence: z.number().int(),
  })
  .meta({ id: 'Customer' });

export type { CustomerView };

// The schema describes exactly the domain's CustomerView: compiling fails when the two drift apart.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaMatchesView: Same<z.infer<typeof customerSchema>, CustomerView> = true;
void schemaMatchesView;

export const historyPageSchema = z
  .object({
    items: z.array(
      z.object({
        kind: z.string().describe('tier | lifecycle_stage | at_risk | segment'),
        before: z.unknown(),
        after: z.unknown(),
        reasons: z.array(z.unknown()),
        changed_at: instant.describe('when the change became true'),
        recorded_at: instant.describe('when Tierwise recorded it'),
        sequence: z.number().int(),
      }),
    ),
    next_cursor: z.string().nullable(),
  })
  .meta({ id: 'CustomerHistoryPage' });
