import type { Tier } from './policy.types.ts';
import type { PresetName } from './policy.schema.ts';

// Playbooks are suggestions a shop replaces with its own service levels.
export const PRESET_TIERS: Readonly<Record<PresetName, readonly Tier[]>> = {
  'rfm-value': [
    {
      key: 'high',
      name: 'High value',
      rule: { field: 'value_score', op: 'gte', value: 70 },
      playbook: {
        summary: 'Recent, frequent, big spenders: protect and reward them.',
        actions: ['Priority support', 'Early access to launches and sales', 'Personal thank-you with an exclusive offer'],
      },
    },
    {
      key: 'medium',
      name: 'Medium value',
      rule: { field: 'value_score', op: 'gte', value: 40 },
      playbook: {
        summary: 'Solid customers with room to grow.',
        actions: ['Cross-sell from their top categories', 'Invite to the loyalty programme', 'Bundle or volume offers'],
      },
    },
    {
      key: 'low',
      name: 'Low value',
      rule: null,
      playbook: {
        summary: 'Occasional or fading customers: keep costs low, try to win them back.',
        actions: ['Automated reactivation campaign', 'Entry-level discount on the next order', 'Short survey on what would bring them back'],
      },
    },
  ],
  'pareto-abc': [
    {
      key: 'A',
      name: 'A: top revenue (first 80%)',
      rule: { field: 'abc_class', op: 'eq', value: 'A' },
      playbook: {
        summary: 'The few customers who bring most of the revenue.',
        actions: ['Dedicated account contact', 'Priority fulfilment and support', 'Invitation-only offers'],
      },
    },
    {
      key: 'B',
      name: 'B: next 15% of revenue',
      rule: { field: 'abc_class', op: 'eq', value: 'B' },
      playbook: {
        summary: 'Regular contributors who could move up to A.',
        actions: ['Personalised recommendations', 'Loyalty points boost', 'Upgrade offers toward A-level perks'],
      },
    },
    {
      key: 'C',
      name: 'C: long tail',
      rule: null,
      playbook: {
        summary: 'Many small customers: serve efficiently.',
        actions: ['Self-service support', 'Automated newsletters', 'Threshold offers to raise basket size'],
      },
    },
  ],
  frequency: [
    {
      key: 'high',
      name: 'Frequent (12+ orders a year)',
      rule: { field: 'orders_365d', op: 'gte', value: 12 },
      playbook: {
        summary: 'Habitual buyers: make reordering effortless.',
        actions: ['Subscription or auto-replenish offer', 'Free shipping', 'Members-only early access'],
      },
    },
    {
      key: 'medium',
      name: 'Regular (4-11 orders a year)',
      rule: { field: 'orders_365d', op: 'gte', value: 4 },
      playbook: {
        summary: 'Repeat buyers: build the habit.',
        actions: ['Reorder reminders at their usual cadence', 'Loyalty programme invitation', 'Next-order incentive'],
      },
    },
    {
      key: 'low',
      name: 'Occasional',
      rule: null,
      playbook: {
        summary: 'Infrequent buyers: give them a reason to come back.',
        actions: ['Seasonal campaigns', 'Welcome-back offer', 'Highlight new arrivals in their categories'],
      },
    },
  ],
};
