import { describe, expect, it } from 'vitest';
import { expit, lnHyp2f1 } from './model.special.ts';

describe('lnHyp2f1', () => {
  // ₂F₁(1, 1; 2; z) = −ln(1 − z)/z; ₂F₁(a, b; b; z) = (1 − z)^−a; ₂F₁(½, 1; 3/2; z²) = atanh(z)/z
  it.each([
    ['₂F₁(1,1;2;0.5)', 1, 1, 2, 0.5, Math.log(-Math.log(0.5) / 0.5)],
    ['₂F₁(1,1;2;z → 1), the slowest case (c − a − b = 0)', 1, 1, 2, 1 - 1e-4, Math.log(-Math.log(1e-4) / (1 - 1e-4))],
    ['(1−z)^−a near z = 1, a = 3.24', 3.24, 4.43, 4.43, 0.998, -3.24 * Math.log(0.002)],
    ['(1−z)^−a, a = 3.7, z = 0.99', 3.7, 2, 2, 0.99, -3.7 * Math.log(0.01)],
    ['(1−z)^−a, a = 1000.24, z = 0.9 (huge terms)', 1000.24, 3.4, 3.4, 0.9, -1000.24 * Math.log(0.1)],
    ['atanh', 0.5, 1, 1.5, 0.25, Math.log(Math.atanh(0.5) / 0.5)],
    ['z = 0', 2, 3, 4, 0, 0],
  ])('%s', (_name, a, b, c, z, expected) => {
    expect(lnHyp2f1(a, b, c, z)).toBeCloseTo(expected, 9);
  });

  it('gives up (NaN, never a wrong number) when even the transformed series cannot settle', () => {
    expect(lnHyp2f1(1, 1, 2, 1 - 1e-9)).toBeNaN();
  });

  it('is NaN outside 0 ≤ z < 1', () => {
    expect(lnHyp2f1(1, 1, 2, 1)).toBeNaN();
    expect(lnHyp2f1(1, 1, 2, -0.1)).toBeNaN();
  });
});

describe('expit', () => {
  it.each([
    [0, 0.5],
    [800, 1],
    [-800, 0],
    [2, 1 / (1 + Math.exp(-2))],
  ])('expit(%f) = %f', (x, expected) => expect(expit(x)).toBeCloseTo(expected, 15));

});
