// In the order docs/architecture.md, Lifecycle stage, checks them: the first that holds is the stage.
export const LIFECYCLE_STAGES = ['prospect', 'lapsed', 'at_risk', 'reactivated', 'new', 'loyal', 'active'] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

export interface LifecycleParams {
  lapsed_after_days: number;
  reactivated_window_days: number;
  loyal_min_orders: number;
  loyal_min_tenure_days: number;
}

export interface AtRiskParams {
  min_days: number;
  cadence_multiplier: number;
  one_time_buyer_days: number;
  complaints_90d_threshold: number;
  max_satisfaction: number;
  p_alive_below: number;
}

export const DEFAULT_LIFECYCLE: LifecycleParams = {
  lapsed_after_days: 365,
  reactivated_window_days: 30,
  loyal_min_orders: 5,
  loyal_min_tenure_days: 180,
};

export const DEFAULT_AT_RISK: AtRiskParams = {
  min_days: 30,
  cadence_multiplier: 2,
  one_time_buyer_days: 90,
  complaints_90d_threshold: 2,
  max_satisfaction: 2,
  p_alive_below: 0.3,
};

export const AT_RISK_REASON_CODES = [
  'overdue_vs_cadence',
  'one_time_buyer_overdue',
  'complaints',
  'low_satisfaction',
  'low_p_alive',
] as const;
export type AtRiskReasonCode = (typeof AT_RISK_REASON_CODES)[number];

export interface AtRiskReason {
  code: AtRiskReasonCode;
  /** for humans, e.g. "no order for 75 days; usual cadence 20 days" */
  detail: string;
  /** when this reason started to hold */
  since: Date;
}

export interface AtRiskStatus {
  flagged: boolean;
  /** the earliest `since` among the current reasons */
  since: Date | null;
  reasons: AtRiskReason[];
}
