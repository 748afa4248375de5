import { pipeline } from 'node:stream/promises';
import { Parser, type Options } from 'csv-parse';
import type { Deps } from '../deps.ts';
import { createLineLedger, extraLines, type LineGap } from '../domain/import/import.lines.ts';
import { createNativeRowReader, readNativeHeader } from '../domain/import/import.native.ts';
import { createRetailLineReader, readRetailHeader } from '../domain/import/import.online-retail.ts';
import { createSkipTally, type RowProblem } from '../domain/import/import.report.ts';
import { isBlankRecord, malformed, type ImportContext, type ImportFormat, type RowSkip } from '../domain/import/import.types.ts';
import { nativeCopyLine, retailCopyLine } from '../store/import.repo.ts';
import { createStagingWriter, type CopyChunk } from '../store/import.stager.repo.ts';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline as pipeStreams, Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ALIAS_FORMAT, createAliasRowReader, readAliasHeader } from '../domain/import/import.aliases.ts';
import { mergeProfiles, type IdentityDeps, type MergeRequest } from './identity.service.ts';

export interface ImportOptions {
  file: string;
  format: ImportFormat;
  /** malformed rows listed with their line in the result (all are counted) */
  maxProblems?: number;
  /** native rows are stored in batches of about this much COPY text (default 32 MiB) */
  batchBytes?: number;
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
  phase: 'reading' | 'storing';
  bytesRead: number;
  bytesTotal: number;
  rows: number;
}

export interface ImportResult {
  file: string;
  format: ImportFormat;
  /** data rows in the file (lines, for Online Retail), blank lines and the header aside */
  rows_read: number;
  /** rows that passed validation and were staged */
  rows_accepted: number;
  /** orders they make (one per row for native, one per invoice for Online Retail) */
  orders: number;
  orders_imported: number;
  /** orders already stored (through the API or an earlier import) or repeated earlier in the file */
  duplicates: number;
  customers_created: number;
  skipped: { total: number; by_reason: Record<string, number> };
  problems: RowProblem[];
  problems_omitted: number;
  blank_lines: number;
  ignored_columns: string[];
  seconds: number;
  /** until the last row was read, validated and staged (native batches are stored meanwhile) */
  read_seconds: number;
  /** storing after that */
  store_seconds: number;
  rows_per_second: number;
}

/** A file that cannot be imported at all (no usable header): nothing is stored. */
export class ImportFileError extends Error {}

const COPY_CHUNK = 64 * 1024;
/** Native rows per stored batch, in COPY text: ~170,000 rows, enough for index inserts in key order within each. */
const BATCH_BYTES = 32 * 1024 * 1024;
const PROGRESS_EVERY_MS = 200;

/** A row as COPY text, with its customer, or why it is skipped. */
type RowToCopy = (cells: string[], line: number) => { text: string; customerId: string } | RowSkip;

/**
 * csv-parse's stream, with each record handed to `onRecord` as the parser pushes it, with the line
 * it ended on (the parser's live `info.lines`); only what `onRecord` returns goes downstream. The
 * parser's own on_record hook would build a context object per record, a sixth of the import's CPU.
 */
class RecordParser extends Parser {
  constructor(options: Options, private readonly onRecord: (record: string[], endLine: number) => CopyChunk | null) {
    super(options);
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null || this.destroyed) return chunk === null ? super.push(null, encoding) : false;
    try {
      const out = this.onRecord(chunk as string[], this.info.lines);
      return out === null ? true : super.push(out, encoding);
    } catch (err) {
      this.destroy(err as Error);
      return false;
    }
  }
}

function rowReader(format: ImportFormat, headerCells: string[], ctx: ImportContext): { toCopy: RowToCopy; ignored: string[] } {
  if (format === 'native') {
    const h = readNativeHeader(headerCells);
    if (!h.ok) throw new ImportFileError(`not a native import file: ${h.message}`);
    const read = createNativeRowReader(h.header, ctx);
    const receivedAt = ctx.now.toISOString();
    return {
      ignored: h.header.ignored,
      toCopy: (cells) => {
        const r = read(cells);
        return r.ok ? { text: nativeCopyLine(r.value, receivedAt), customerId: r.value.customerId } : r;
      },
    };
  }
  const h = readRetailHeader(headerCells);
  if (!h.ok) throw new ImportFileError(`not an Online Retail file: ${h.message}`);
  const read = createRetailLineReader(h.header, ctx);
  return {
    ignored: h.header.ignored,
    toCopy: (cells, line) => {
      const r = read(cells);
      return r.ok ? { text: retailCopyLine(line, r.value), customerId: r.value.customerId } : r;
    },
  };
}

/**
 * Streams a CSV file (gzip or not) through validation into staging tables with COPY, in constant
 * memory, and stores its orders set-based: native rows in batches (one transaction each) while the
 * rest is read, Online Retail lines in one transaction at the end. Bad rows are counted, listed
 * with their line and skipped; they never stop the rows around them. A failure part-way leaves the
 * batches stored so far; importing the file again adds the rest.
 */
export async function importFile(deps: Pick<Deps, 'pool' | 'clock' | 'config'>, options: ImportOptions): Promise<ImportResult> {
  const started = performance.now();
  const ctx: ImportContext = { currency: deps.config.CURRENCY, now: deps.clock.now() };
  const source = await openImportSource(options.file);
  const tally = createSkipTally(options.maxProblems ?? 20);
  const ledger = createLineLedger();
  const counts = { rows: 0, accepted: 0, blank: 0 };
  let ignored: string[] = [];
  const report = () =>
    options.onProgress?.({ phase: 'reading', bytesRead: source.bytesRead(), bytesTotal: source.size, rows: counts.rows });

  // Rows are handled as the parser pushes them, synchronously as each is parsed, and leave it as
  // COPY text in 64 KB chunks with their customers: no per-row stream, promise or context object,
  // and the parser's `skip` events (text it cannot read) arrive in line order with the records.
  let toCopy: RowToCopy | undefined;
  let buffer = '';
  let customerIds: string[] = [];
  const batchBytes = options.format === 'native' ? (options.batchBytes ?? BATCH_BYTES) : null;
  const chunkBytes = Math.min(COPY_CHUNK, batchBytes ?? COPY_CHUNK);
  const skipLines = (gap: LineGap | undefined) => {
    if (!gap) return;
    const rows = gap.to - gap.from + 1;
    counts.rows += rows;
    tally.add(gap.from, malformed('invalid_csv', gap.message), rows);
  };
  const onRecord = (record: string[], endLine: number): CopyChunk | null => {
    const extra = extraLines(record);
    skipLines(ledger.record(endLine, extra));
    if (isBlankRecord(record)) {
      counts.blank++;
      return null;
    }
    if (!toCopy) {
      ({ toCopy, ignored } = rowReader(options.format, record, ctx));
      return null;
    }
    counts.rows++;
    const out = toCopy(record, endLine - extra);
    if ('ok' in out) {
      tally.add(endLine - extra, out);
      return null;
    }
    counts.accepted++;
    buffer += out.text;
    customerIds.push(out.customerId);
    if (buffer.length < chunkBytes) return null;
    const chunk = { text: buffer, customerIds };
    buffer = '';
    customerIds = [];
    return chunk;
  };
  const parser = new RecordParser({ bom: true, relax_column_count: true, skip_records_with_error: true }, onRecord);
  parser.on('skip', (err: Error & { lines?: number }) => ledger.noteError(err.lines ?? parser.info.lines, err.message));
  let readSeconds = 0;
  const ticker = setInterval(report, PROGRESS_EVERY_MS);
  async function* thenRest(chunks: AsyncIterable<CopyChunk>): AsyncGenerator<CopyChunk> {
    yield* chunks;
    skipLines(ledger.finish(parser.info.lines - (source.endsWithNewline() ? 1 : 0)));
    if (!toCopy) throw new ImportFileError(`${options.file} has no header row`);
    if (buffer) yield { text: buffer, customerIds };
    readSeconds = (performance.now() - started) / 1000;
    clearInterval(ticker);
    report();
    options.onProgress?.({ phase: 'storing', bytesRead: source.bytesRead(), bytesTotal: source.size, rows: counts.rows });
  }

  // Native rows are stored in batches while the file is still being read; an Online Retail
  // invoice's lines may be anywhere in the file, so its lines are staged whole, then summed.
  const stager = createStagingWriter(deps.pool, options.format, ctx.now, batchBytes);
  try {
    await pipeline(source.stream, parser, thenRest, stager.writable);
    const stored = stager.totals();
    const seconds = (performance.now() - started) / 1000;
    return {
      file: options.file,
      format: options.format,
      rows_read: counts.rows,
      rows_accepted: counts.accepted,
      orders: stored.orders,
      orders_imported: stored.inserted,
      duplicates: stored.orders - stored.inserted,
      customers_created: stored.customersCreated,
      skipped: { total: tally.total(), by_reason: tally.byReason() },
      problems: tally.problems(),
      problems_omitted: tally.problemsOmitted(),
      blank_lines: counts.blank,
      ignored_columns: ignored,
      seconds,
      read_seconds: readSeconds,
      store_seconds: seconds - readSeconds,
      rows_per_second: seconds > 0 ? counts.rows / seconds : 0,
    };
  } finally {
    clearInterval(ticker);
    stager.release();
  }
}

// The file an import reads.

export interface ImportSource {
  /** the file's text, decompressed; a read or gzip error destroys it with that error */
  stream: Readable;
  /** size of the file on disk (compressed, when it is) */
  size: number;
  gzip: boolean;
  /** bytes of the file read so far, for progress */
  bytesRead(): number;
  /** whether the text read so far ends with a newline (then the parser's last line is an empty one) */
  endsWithNewline(): boolean;
}

const READ_CHUNK = 256 * 1024;

/** Opens a CSV file, gunzipping it when it starts with the gzip magic bytes (whatever its name). */
export async function openImportSource(file: string): Promise<ImportSource> {
  const handle = await open(file, 'r');
  let size: number;
  let gzip: boolean;
  try {
    size = (await handle.stat()).size;
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    gzip = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await handle.close();
  }
  if (!gzip && /\.gz$/i.test(file)) throw new Error(`${file} is named .gz but is not gzip-compressed`);
  let read = 0;
  let lastByte = -1;
  const counted = tap((chunk) => (read += chunk.length));
  const text = tap((chunk) => {
    if (chunk.length > 0) lastByte = chunk[chunk.length - 1]!;
  });
  const input = createReadStream(file, { highWaterMark: READ_CHUNK });
  // The error is the consumer's to handle: pipeline destroys `text` with it.
  const ignore = () => {};
  if (gzip) pipeStreams(input, counted, createGunzip({ chunkSize: READ_CHUNK }), text, ignore);
  else pipeStreams(input, counted, text, ignore);
  return { stream: text, size, gzip, bytesRead: () => read, endsWithNewline: () => lastByte === 0x0a };
}

function tap(onChunk: (chunk: Buffer) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onChunk(chunk);
      callback(null, chunk);
    },
  });
}

export interface AliasImportResult {
  file: string;
  format: typeof ALIAS_FORMAT;
  rows_read: number;
  rows_accepted: number;
  merged: number;
  /** both ids were one profile already */
  already_merged: number;
  /** rows imported before (the same pair) */
  duplicates: number;
  refused: { total: number; by_reason: Record<string, number> };
  skipped: { total: number; by_reason: Record<string, number> };
  problems: RowProblem[];
  problems_omitted: number;
  blank_lines: number;
  seconds: number;
  merges_per_second: number;
}

/** Rows merged between two progress reports; each merge is its own transaction (services/identity.service.ts). */
const ALIAS_CHUNK = 500;

/**
 * `tierwise import FILE --format aliases`: each `customer_id,previous_id` row merges the profile
 * `previous_id` into `customer_id`'s, in file order, exactly as an `alias` event (mergeProfiles):
 * refusals are recorded and counted, and a row imported before is a duplicate.
 */
export async function importAliases(
  deps: IdentityDeps,
  options: Pick<ImportOptions, 'file' | 'maxProblems' | 'onProgress'>,
): Promise<AliasImportResult> {
  const started = performance.now();
  const source = await openImportSource(options.file);
  const tally = createSkipTally(options.maxProblems ?? 20);
  const outcomes = { merged: 0, already_merged: 0, duplicates: 0, refused: new Map<string, number>() };
  const counts = { rows: 0, accepted: 0, blank: 0 };
  let read: ReturnType<typeof createAliasRowReader> | undefined;
  let pending: MergeRequest[] = [];
  const at = deps.clock.now();
  const flush = async () => {
    for (const result of await mergeProfiles(deps, pending)) {
      if (result.outcome === 'refused') outcomes.refused.set(result.reason, (outcomes.refused.get(result.reason) ?? 0) + 1);
      else if (result.outcome === 'duplicate') outcomes.duplicates++;
      else outcomes[result.outcome]++;
    }
    pending = [];
    options.onProgress?.({ phase: 'storing', bytesRead: source.bytesRead(), bytesTotal: source.size, rows: counts.rows });
  };
  const parser = source.stream.pipe(new Parser({ bom: true, relax_column_count: true, skip_records_with_error: true, info: true }));
  parser.on('skip', (err: Error & { lines?: number }) => tally.add(err.lines ?? parser.info.lines, malformed('invalid_csv', err.message)));
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    if (isBlankRecord(record)) {
      counts.blank++;
      continue;
    }
    if (!read) {
      const header = readAliasHeader(record);
      if (!header.ok) throw new ImportFileError(`not an aliases file: ${header.message}`);
      read = createAliasRowReader(header.header);
      continue;
    }
    counts.rows++;
    const row = read(record);
    if (!row.ok) {
      tally.add(info.lines, row);
      continue;
    }
    counts.accepted++;
    pending.push({ eventId: row.value.eventId, customerId: row.value.customerId, previousId: row.value.previousId, at });
    if (pending.length >= ALIAS_CHUNK) await flush();
  }
  if (!read) throw new ImportFileError(`${options.file} has no header row`);
  await flush();
  const seconds = (performance.now() - started) / 1000;
  const refusedTotal = [...outcomes.refused.values()].reduce((a, b) => a + b, 0);
  return {
    file: options.file,
    format: ALIAS_FORMAT,
    rows_read: counts.rows,
    rows_accepted: counts.accepted,
    merged: outcomes.merged,
    already_merged: outcomes.already_merged,
    duplicates: outcomes.duplicates,
    refused: { total: refusedTotal, by_reason: Object.fromEntries(outcomes.refused) },
    skipped: { total: tally.total(), by_reason: tally.byReason() },
    problems: tally.problems(),
    problems_omitted: tally.problemsOmitted(),
    blank_lines: counts.blank,
    seconds,
    merges_per_second: seconds > 0 ? outcomes.merged / seconds : 0,
  };
}
