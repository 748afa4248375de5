/**
 * HOOK — import benchmark. `tierwise import` and its benchmark (bench/import.bench.ts, exporting a
 * benchmark function) are built separately; once they are in the tree, call that function here
 * and map its result onto ImportFigures (rows/s of `tierwise import` vs a bare COPY of the same
 * rows, and the Online Retail file's seconds including its rescore). Until then the import rows
 * of RESULTS.md read "not measured".
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Deps } from '../src/deps.ts';

export interface ImportFigures {
  rowsPerSec: number;
  bareCopyRowsPerSec: number;
  onlineRetailSeconds: number | null;
}

export async function measureImportHook(_deps: Deps, _runs: number, log: (line: string) => void): Promise<ImportFigures | null> {
  const path = fileURLToPath(new URL('./import.bench.ts', import.meta.url));
  if (!existsSync(path)) {
    log('import: bench/import.bench.ts is not in the tree; import figures not measured');
    return null;
  }
  log('import: bench/import.bench.ts exists but is not wired into bench/scale.import-hook.ts yet; import figures not measured');
  return null;
}
