import { parseArgs } from 'node:util';
import type { Deps } from '../deps.ts';
import { IMPORT_FORMATS } from '../domain/import/import.types.ts';
import { refreshAndRescore } from '../services/rescore.service.ts';
import { UsageError } from './commands.ts';
import { createProgressView } from './import.progress.ts';
import { formatAliasReport, formatImportReport, type ImportReport } from './import.report.ts';
import { ImportFileError, importAliases, importFile } from '../services/import.service.ts';
import { ALIAS_FORMAT } from '../domain/import/import.aliases.ts';

export const IMPORT_USAGE =
  'usage: tierwise import FILE.csv[.gz] [--format native|online-retail|aliases] [--json] [--max-problems N] [--no-rescore]';

const FORMATS = [...IMPORT_FORMATS, ALIAS_FORMAT] as const;

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
  if (!FORMATS.includes(values.format as (typeof FORMATS)[number])) {
    throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${values.format}"`);
  }
  const maxProblems = Number(values['max-problems']);
  if (!Number.isInteger(maxProblems) || maxProblems < 0) throw new UsageError('--max-problems must be a whole number ≥ 0');
  return { file: positionals[0]!, format: values.format as (typeof FORMATS)[number], json: values.json, maxProblems, rescore: values.rescore };
}

/**
 * `tierwise import FILE --format …`: streams the file into `events`, then refreshes the population
 * statistics and rescores every customer once. Progress goes to stderr, the report to stdout.
 */
export async function importCommand(deps: Deps, args: string[]): Promise<void> {
  const { format, ...options } = readArgs(args);
  const view = createProgressView(process.stderr);
  const started = performance.now();
  if (format === ALIAS_FORMAT) {
    let result;
    try {
      result = await importAliases(deps, { ...options, onProgress: (p) => view.phase(`merged ${p.rows.toLocaleString('en-US')} rows…`) });
    } catch (err) {
      view.stop();
      throw cliError(err, options.file);
    }
    view.stop();
    // Each merge asked for its survivor's recompute, which the workers run: no rescore of everyone.
    console.log(options.json ? JSON.stringify(result, null, 2) : formatAliasReport(result));
    return;
  }
  let result;
  try {
    result = await importFile(deps, {
      ...options,
      format,
      onProgress: (p) => (p.phase === 'reading' ? view.reading(p) : view.phase(`storing ${p.rows.toLocaleString('en-US')} rows…`)),
    });
  } catch (err) {
    view.stop();
    throw cliError(err, options.file);
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

/** A file that cannot be read or is not of its format is a usage error; anything else is thrown as is. */
function cliError(err: unknown, file: string): unknown {
  const code = (err as { code?: string }).code;
  if (err instanceof ImportFileError) return new UsageError(err.message);
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') return new UsageError(`cannot read ${file}: ${code}`);
  return err;
}
