/**
 * Model fit timing: BG/NBD + Gamma-Gamma (src/domain/model/predictions.ts fitModel) on the 2,357-customer
 * CDNOW summary and on synthetic buyers (default 1,000,000), including the compression of identical
 * (x, t_x, T) rows. Pure computation; with BENCH_DB=1 also the fit job's path through Postgres
 * (the buyers stored as order events, summarised and compressed in SQL; bench/model-fit.db.ts).
 *
 *   npx tsx bench/model-fit.bench.ts
 *   BENCH_BUYERS=200_000 BENCH_RUNS=1 BENCH_DB=1 npx tsx bench/model-fit.bench.ts
 */
import { compressRows, fitModel } from '../src/domain/model/predictions.ts';
import type { SpendRow } from '../src/domain/model/gamma-gamma.ts';
import { CDNOW_BGNBD, CDNOW_GAMMA_GAMMA, loadCdnowSummary } from '../test/fixtures/model.fixtures.ts';
import { handleInterrupts, intEnv, machine, runMain } from './support.ts';
import { measureInPostgres } from './model-fit.db.ts';
import { simulateBuyers, type SyntheticBuyer } from './model-fit.simulate.ts';

const BUYERS = intEnv('BENCH_BUYERS', 1_000_000);
const RUNS = intEnv('BENCH_RUNS', 3);

// Identical (x, mean spend) repeat buyers also share a row, as the fit job's SQL groups them.
function spendRows(buyers: readonly SyntheticBuyer[]): SpendRow[] {
  const rows = new Map<string, SpendRow>();
  for (const b of buyers) {
    if (b.x === 0) continue;
    const key = `${b.x}|${b.zbar}`;
    const row = rows.get(key);
    if (row) row.weight++;
    else rows.set(key, { x: b.x, m: b.zbar, weight: 1 });
  }
  return [...rows.values()];
}

function measure(name: string, buyers: readonly SyntheticBuyer[]) {
  const times: { compress: number; fit: number }[] = [];
  let last: ReturnType<typeof fitModel> | undefined;
  let rows = 0;
  let spend = 0;
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    const compressed = compressRows(buyers);
    const spendCompressed = spendRows(buyers);
    const t1 = performance.now();
    last = fitModel(compressed, spendCompressed);
    const t2 = performance.now();
    times.push({ compress: t1 - t0, fit: t2 - t1 });
    rows = compressed.length;
    spend = spendCompressed.length;
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const fit = last!;
  console.log(`\n${name}: ${buyers.length.toLocaleString('en')} buyers → ${rows.toLocaleString('en')} distinct (x, t_x, T) rows, ${spend.toLocaleString('en')} spend rows`);
  console.log(`  compress ${median(times.map((t) => t.compress)).toFixed(0)} ms, fit ${median(times.map((t) => t.fit)).toFixed(0)} ms (median of ${RUNS})`);
  if (!fit.ok) {
    console.log(`  refused: ${fit.reason}`);
    return;
  }
  const { bgnbd: b, gamma_gamma: g } = fit.params;
  console.log(`  BG/NBD r=${b.r.toFixed(4)} α=${b.alpha.toFixed(4)} a=${b.a.toFixed(4)} b=${b.b.toFixed(4)} LL=${b.log_likelihood.toFixed(2)}; Gamma-Gamma p=${g.p.toFixed(4)} q=${g.q.toFixed(4)} v=${g.v.toFixed(4)}; ${fit.iterations} iterations`);
}

async function main(): Promise<number> {
  handleInterrupts();
  console.log(`model fit benchmark — ${machine()}`);
  measure('CDNOW summary', loadCdnowSummary());
  const t0 = performance.now();
  const synthetic = simulateBuyers(BUYERS, CDNOW_BGNBD, CDNOW_GAMMA_GAMMA);
  console.log(`\n(simulated ${BUYERS.toLocaleString('en')} buyers with the CDNOW parameters in ${(performance.now() - t0).toFixed(0)} ms; not part of the timing)`);
  measure('synthetic', synthetic);
  if (process.env.BENCH_DB === '1') await measureInPostgres(synthetic);
  return 0;
}

runMain(main);
