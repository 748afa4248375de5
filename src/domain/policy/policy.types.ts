import type { Rule } from '../rules/rules.ts';

export interface Playbook {
  summary: string;
  actions: string[];
}

export interface Tier {
  key: string;
  name: string;
  /** null only for the last tier: the fallback for buyers */
  rule: Rule | null;
  playbook: Playbook | null;
}
