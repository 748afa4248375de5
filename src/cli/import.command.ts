import { parseArgs } from 'node:util';
import type { Deps } from '../deps.ts';
import { IMPORT_FORMATS, type ImportFormat } from '../domain/import/import.types.ts';
import { refreshAndRescore } from '../services/rescore.service.ts';
import { UsageError } from './commands.ts';
import { createProgressView } from './import.progress.ts';
import { formatImportReport, type ImportReport } from './import.report.ts';
import { ImportFileError, importFile } from '../services/import.service.ts';

export const IMPORT_USAGE =
  'usage: tierwise import FILE.csv[.gz] [--format native|online-retail] [--json] [--max-problems N] [--no-rescore]';

function readArgs(args: string[]) {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      allowNegative: true,
      options: {
        format: { type: 'string', default: 'native' },
        json: { type: 'boolean', default: false },
        'max-problems': { type: 'string', default: '20' },
        rescore: { type: 'boolean', default: true },
      },
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${IMPORT_USAGE}`);
  }
  const { positionals, values } = parsed;
  if (positionals.length !== 1) throw new UsageError(IMPORT_USAGE);
  if (!IMPORT_FORMATS.includes(values.format as ImportFormat)) {
    throw new UsageError(`--format must be one of ${IMPORT_FORMATS.join(', ')}, got "${values.format}"`);
  }
  const maxProblems = Number(values['max-problems']);
  if (!Number.isInteger(maxProblems) || maxProblems < 0) throw new UsageError('--max-problems must be a whole number ≥ 0');
  return { file: positionals[0]!, format: values.format as ImportFormat, json: values.json, maxProblems, rescore: values.rescore };
}

/**
 * `tierwise import FILE --format …`: streams the file into `events`, then refreshes the population
 * statistics and rescores every customer once. Progress goes to stderr, the report to stdout.
 */
export async function importCommand(deps: Deps, args: string[]): Promise<void> {
  const options = readArgs(args);
  const view = createProgressView(process.stderr);
  const started = performance.now();
  let result;
  try {
    result = await importFile(deps, {
      ...options,
      onProgress: (p) => (p.phase === 'reading' ? view.reading(p) : view.phase(`storing ${p.rows.toLocaleString('en-US')} rows…`)),
    });
  } catch (err) {
    view.stop();
    const code = (err as { code?: string }).code;
    if (err instanceof ImportFileError) throw new UsageError(err.message);
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new UsageError(`cannot read ${options.file}: ${code}`);
    throw err;
  }
  let rescore: ImportReport['rescore'] = null;
  if (options.rescore) {
    const rescoreStarted = performance.now();
    const done = await refreshAndRescore(deps, { onProgress: async (f) => view.rescoring(f) });
    rescore = { ...done, seconds: (performance.now() - rescoreStarted) / 1000 };
  }
  view.stop();
  const report: ImportReport = { ...result, rescore, total_seconds: (performance.now() - started) / 1000 };
  console.log(options.json ? JSON.stringify(report, null, 2) : formatImportReport(report));
}
