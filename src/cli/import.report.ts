import type { AliasImportResult, ImportResult } from '../services/import.service.ts';

export interface ImportReport extends ImportResult {
  rescore: { stats_version: number; customers: number; changed: number; seconds: number } | null;
  total_seconds: number;
}

const int = (n: number) => n.toLocaleString('en-US');

/** The report as a person reads it (`--json` prints the object itself). */
export function formatImportReport(r: ImportReport): string {
  const label = (s: string) => `  ${s.padEnd(20)}`;
  const lines = [
    `Imported ${r.file} (${r.format}) in ${r.seconds.toFixed(1)} s, ${int(Math.round(r.rows_per_second))} rows/s`,
    `${label('rows read')}${int(r.rows_read)}`,
    `${label('rows accepted')}${int(r.rows_accepted)}`,
    `${label('orders')}${int(r.orders)}: ${int(r.orders_imported)} imported, ${int(r.duplicates)} duplicate${r.duplicates === 1 ? '' : 's'}`,
    `${label('customers created')}${int(r.customers_created)}`,
    `${label('rows skipped')}${int(r.skipped.total)}`,
    ...Object.entries(r.skipped.by_reason).map(([reason, n]) => `    ${reason.padEnd(26)}${int(n).padStart(10)}`),
  ];
  if (r.blank_lines > 0) lines.push(`${label('blank lines')}${int(r.blank_lines)}`);
  if (r.ignored_columns.length > 0) lines.push(`${label('columns not read')}${r.ignored_columns.join(', ')}`);
  if (r.problems.length > 0) {
    const listed = r.problems.length + r.problems_omitted;
    lines.push(`  malformed rows${r.problems_omitted > 0 ? ` (first ${r.problems.length} of ${int(listed)})` : ''}:`);
    for (const p of r.problems) {
      const where = p.to_line ? `lines ${p.line}-${p.to_line}` : `line ${p.line}`;
      lines.push(`    ${where}: ${p.reason}: ${p.message}`);
    }
  }
  lines.push(
    r.rescore
      ? `${label('rescore')}${int(r.rescore.customers)} customers (${int(r.rescore.changed)} changed) in ${r.rescore.seconds.toFixed(1)} s, statistics version ${r.rescore.stats_version}`
      : `${label('rescore')}skipped (--no-rescore): run \`tierwise rescore\` when done importing`,
  );
  lines.push(`${label('total')}${r.total_seconds.toFixed(1)} s`);
  return lines.join('\n');
}

/** The report of an aliases import. */
export function formatAliasReport(r: AliasImportResult): string {
  const label = (s: string) => `  ${s.padEnd(20)}`;
  const reasons = (byReason: Record<string, number>) => Object.entries(byReason).map(([reason, n]) => `    ${reason.padEnd(26)}${int(n).padStart(10)}`);
  const lines = [
    `Imported ${r.file} (aliases) in ${r.seconds.toFixed(1)} s, ${int(Math.round(r.merges_per_second))} merges/s`,
    `${label('rows read')}${int(r.rows_read)}`,
    `${label('rows accepted')}${int(r.rows_accepted)}`,
    `${label('merged')}${int(r.merged)}`,
    `${label('already one profile')}${int(r.already_merged)}`,
    `${label('imported before')}${int(r.duplicates)}`,
    `${label('refused')}${int(r.refused.total)}`,
    ...reasons(r.refused.by_reason),
    `${label('rows skipped')}${int(r.skipped.total)}`,
    ...reasons(r.skipped.by_reason),
  ];
  if (r.blank_lines > 0) lines.push(`${label('blank lines')}${int(r.blank_lines)}`);
  for (const p of r.problems) lines.push(`    line ${p.line}: ${p.reason}: ${p.message}`);
  if (r.problems_omitted > 0) lines.push(`    … and ${int(r.problems_omitted)} more malformed rows`);
  return lines.join('\n');
}
