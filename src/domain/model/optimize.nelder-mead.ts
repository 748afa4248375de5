// Nelder–Mead simplex minimisation (Lagarias et al. 1998 coefficients, as scipy's fmin). The models
// fit 3–4 log-parameters with a smooth, cheap objective: derivative-free is robust there, and the
// result must say whether it converged so a bad fit can be refused.

export interface MinimizeOptions {
  /** stop when the simplex's objective values differ by less than this */
  fTolerance?: number;
  /** …and its vertices by less than this in every coordinate */
  xTolerance?: number;
  maxIterations?: number;
  /** initial simplex edge along each axis */
  step?: number;
}

export interface MinimizeResult {
  x: number[];
  value: number;
  iterations: number;
  converged: boolean;
}

export function nelderMead(f: (x: number[]) => number, start: number[], options: MinimizeOptions = {}): MinimizeResult {
  const { fTolerance = 1e-11, xTolerance = 1e-7, maxIterations = 10_000, step = 0.5 } = options;
  const n = start.length;
  const value = (x: number[]) => {
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  let simplex = [start, ...start.map((_, i) => start.map((s, j) => (i === j ? s + step : s)))].map((x) => ({ x, v: value(x) }));
  const along = (from: number[], to: number[], t: number) => from.map((c, i) => c + t * (to[i]! - c));

  for (let iteration = 0; iteration < maxIterations; iteration++) {
    simplex.sort((p, q) => p.v - q.v);
    const best = simplex[0]!;
    const worst = simplex[n]!;
    const spreadF = Math.abs(worst.v - best.v);
    const spreadX = Math.max(...simplex.slice(1).map((p) => Math.max(...p.x.map((c, i) => Math.abs(c - best.x[i]!)))));
    if (spreadF <= fTolerance && spreadX <= xTolerance) return { x: best.x, value: best.v, iterations: iteration, converged: true };

    const centroid = start.map((_, i) => simplex.slice(0, n).reduce((s, p) => s + p.x[i]!, 0) / n);
    const reflected = along(centroid, worst.x, -1);
    const vr = value(reflected);
    if (vr < best.v) {
      const expanded = along(centroid, worst.x, -2);
      const ve = value(expanded);
      simplex[n] = ve < vr ? { x: expanded, v: ve } : { x: reflected, v: vr };
      continue;
    }
    if (vr < simplex[n - 1]!.v) {
      simplex[n] = { x: reflected, v: vr };
      continue;
    }
    const outside = vr < worst.v;
    const contracted = along(centroid, worst.x, outside ? -0.5 : 0.5);
    const vc = value(contracted);
    if (vc < (outside ? vr : worst.v)) {
      simplex[n] = { x: contracted, v: vc };
      continue;
    }
    simplex = simplex.map((p, i) => {
      if (i === 0) return p;
      const x = along(best.x, p.x, 0.5);
      return { x, v: value(x) };
    });
  }
  simplex.sort((p, q) => p.v - q.v);
  return { x: simplex[0]!.x, value: simplex[0]!.v, iterations: maxIterations, converged: false };
}

/** Restarts from the optimum until a restart no longer improves it: plain Nelder–Mead can stall early. */
export function minimize(f: (x: number[]) => number, start: number[], options: MinimizeOptions = {}): MinimizeResult {
  let result = nelderMead(f, start, options);
  let iterations = result.iterations;
  for (let restart = 0; restart < 5 && result.converged; restart++) {
    const again = nelderMead(f, result.x, { ...options, step: 0.02 });
    iterations += again.iterations;
    const improved = result.value - again.value > (options.fTolerance ?? 1e-11);
    result = { ...again, iterations };
    if (!improved) break;
  }
  return { ...result, iterations };
}
