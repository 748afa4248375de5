// Special functions the customer-base models need, all in log space where values can overflow.
import gammaln from '@stdlib/math-base-special-gammaln';

export const lnGamma: (x: number) => number = gammaln;

/** 1 / (1 + e^-x) without overflow: exactly 0 or 1 far out, never NaN */
export function expit(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

const MAX_TERMS = 1_000_000;
const RESCALE = 1e250;

/**
 * Gauss series Σ (a)_n (b)_n / ((c)_n n!) z^n for 0 ≤ z < 1, returned as its log (NaN when it does
 * not settle or is not positive). Terms are rescaled so large parameters cannot overflow.
 */
function lnGaussSeries(a: number, b: number, c: number, z: number): number {
  let term = 1;
  let sum = 1;
  let logScale = 0;
  for (let n = 0; n < MAX_TERMS; n++) {
    term *= (((a + n) * (b + n)) / ((c + n) * (n + 1))) * z;
    sum += term;
    if (Math.abs(sum) > RESCALE) {
      sum /= RESCALE;
      term /= RESCALE;
      logScale += Math.log(RESCALE);
    }
    // Past the largest term the terms only shrink, so a negligible one ends the sum.
    if (term === 0 || (Math.abs(term) <= 1e-17 * Math.abs(sum) && Math.abs((a + n + 1) * (b + n + 1) * z) < Math.abs((c + n + 1) * (n + 2)))) {
      return sum > 0 ? Math.log(sum) + logScale : Number.NaN;
    }
  }
  return Number.NaN;
}

/**
 * ln ₂F₁(a, b; c; z) for 0 ≤ z < 1 and c > 0, where the function is positive (the BG/NBD uses).
 * The series terms behave like n^(a+b−c−1) zⁿ. When c − a − b < 0 they first grow polynomially and
 * the sum diverges as z → 1, so Euler's transformation
 *   ₂F₁(a, b; c; z) = (1 − z)^(c−a−b) ₂F₁(c − a, c − b; c; z)
 * is used instead (as lifetimes does): its terms decay like n^(c−a−b−1), a series that converges
 * even at z = 1, and the large factor stays in log space. For BG/NBD both c − a and c − b stay
 * small whatever the frequency x, so a customer with x = 1000 costs a handful of terms.
 */
export function lnHyp2f1(a: number, b: number, c: number, z: number): number {
  if (!(z >= 0 && z < 1) || !(c > 0)) return Number.NaN;
  if (z === 0) return 0;
  const excess = c - a - b;
  if (excess >= 0) return lnGaussSeries(a, b, c, z);
  return excess * Math.log1p(-z) + lnGaussSeries(c - a, c - b, c, z);
}
