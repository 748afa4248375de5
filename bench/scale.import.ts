/**
 * The import figures of the scale benchmark: bench/import.bench.ts in a database of its own (it
 * empties its shop between rounds), so the 1M-customer shop of the scale run is left alone.
 */
import { intEnv } from './support.ts';
import { runImportBench } from './import.bench.ts';

export interface ImportFigures {
  rowsPerSec: number;
  bareCopyRowsPerSec: number;
  /** The Online Retail file imported and rescored; null when the file is not there. */
  onlineRetailSeconds: number | null;
}

export async function measureImport(runs: number, log: (line: string) => void): Promise<ImportFigures> {
  const result = await runImportBench({ rows: intEnv('BENCH_IMPORT_ROWS', 1_000_000), rounds: runs, retailRounds: runs, log });
  return { rowsPerSec: result.import_rows_per_s, bareCopyRowsPerSec: result.copy_rows_per_s, onlineRetailSeconds: result.online_retail?.seconds ?? null };
}
