/**
 * Synthetic buyers drawn from the BG/NBD and Gamma-Gamma processes themselves (seeded), so a fit on
 * them should recover the parameters they were drawn with.
 */
import type { BgNbdParams } from '../src/domain/model/bgnbd.ts';
import type { GammaGammaParams } from '../src/domain/model/gamma-gamma.ts';
import { mulberry32 } from '../test/seeded-random.ts';

function normal(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** Gamma(shape, rate) by Marsaglia–Tsang, boosted for shape < 1 */
export function gamma(rnd: () => number, shape: number, rate: number): number {
  if (shape < 1) return gamma(rnd, shape + 1, rate) * Math.pow(1 - rnd(), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = normal(rnd);
    const v = (1 + c * z) ** 3;
    if (v <= 0) continue;
    if (Math.log(1 - rnd()) < 0.5 * z * z + d - d * v + d * Math.log(v)) return (d * v) / rate;
  }
}

export interface SyntheticBuyer {
  x: number;
  t_x: number;
  T: number;
  zbar: number;
}

/**
 * Buyers whose first purchase falls on one of `cohortDays` days and who are observed until day
 * `observedDays`; purchase times are whole days (same-day purchases merge, as in the service).
 */
export function simulateBuyers(n: number, bg: BgNbdParams, gg: GammaGammaParams, seed = 42, cohortDays = 84, observedDays = 273): SyntheticBuyer[] {
  const rnd = mulberry32(seed);
  const buyers: SyntheticBuyer[] = [];
  for (let i = 0; i < n; i++) {
    const first = Math.floor(rnd() * cohortDays);
    const T = observedDays - first;
    const lambda = gamma(rnd, bg.r, bg.alpha);
    const pa = gamma(rnd, bg.a, 1);
    const p = pa / (pa + gamma(rnd, bg.b, 1));
    const nu = gamma(rnd, gg.q, gg.v);
    let t = 0;
    let lastDay = 0;
    let x = 0;
    let spend = 0;
    for (;;) {
      t += -Math.log(1 - rnd()) / lambda;
      const day = Math.floor(t * 7);
      if (day > T) break;
      if (day > lastDay) {
        x++;
        lastDay = day;
        spend += gamma(rnd, gg.p, nu);
      }
      if (rnd() < p) break;
    }
    buyers.push({ x, t_x: lastDay / 7, T: T / 7, zbar: x > 0 ? Math.round((spend / x) * 100) / 100 : 0 });
  }
  return buyers;
}
