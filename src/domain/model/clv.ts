// Customer lifetime value over a horizon: expected purchases per month (BG/NBD) times expected
// spend per purchase (Gamma-Gamma), discounted monthly. As lifetimes' customer_lifetime_value with
// freq="W": time is in weeks, a month is 4.345 weeks (365.25 / 12 / 7, rounded as lifetimes does).
import { conditionalExpectedPurchases, type BgNbdParams } from './bgnbd.ts';

export const WEEKS_PER_MONTH = 4.345;
/** 1% a month (about 12.7% a year), lifetimes' default; the rate a marketer's finance team would set */
export const MONTHLY_DISCOUNT_RATE = 0.01;
export const CLV_MONTHS = 12;

export function customerLifetimeValue(
  bg: BgNbdParams,
  spendPerPurchase: number,
  customer: { x: number; t_x: number; T: number },
  months = CLV_MONTHS,
  discountRate = MONTHLY_DISCOUNT_RATE,
): number {
  const { x, t_x, T } = customer;
  let value = 0;
  let before = 0;
  for (let month = 1; month <= months; month++) {
    const upTo = conditionalExpectedPurchases(bg, month * WEEKS_PER_MONTH, x, t_x, T);
    value += (spendPerPurchase * (upTo - before)) / (1 + discountRate) ** month;
    before = upTo;
  }
  return value;
}
