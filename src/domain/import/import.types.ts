import { createHash } from 'node:crypto';
import type { z } from 'zod';

export const IMPORT_FORMATS = ['native', 'online-retail'] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

/** What a row parser needs from outside: the deployment's currency and the clock. */
export interface ImportContext {
  currency: string;
  now: Date;
}

/**
 * A row that is not imported. `malformed` rows are broken input and are listed with their line
 * number; the others are skipped by the format's own rules (docs/architecture.md, Import formats: Online Retail cancellations,
 * rows without CustomerID, …) and only counted.
 */
export interface RowSkip {
  ok: false;
  reason: string;
  message: string;
  malformed: boolean;
}

export type RowResult<T> = { ok: true; value: T } | RowSkip;

export const malformed = (reason: string, message: string): RowSkip => ({ ok: false, reason, message, malformed: true });
export const ruleSkip = (reason: string, message: string): RowSkip => ({ ok: false, reason, message, malformed: false });

/** The header of a CSV file, checked: where each known column is, and how many fields a row has. */
export interface Header<C extends string> {
  index: Partial<Record<C, number>>;
  width: number;
  /** Columns present in the file that the format does not read. */
  ignored: string[];
}

export type HeaderResult<C extends string> = { ok: true; header: Header<C> } | { ok: false; message: string };

/** Finds `required` and `optional` columns (exact names); unknown ones are an error when `strict`. */
export function readHeader<C extends string>(
  cells: string[],
  columns: { required: readonly C[]; optional: readonly C[]; strict: boolean },
): HeaderResult<C> {
  const names = cells.map((c) => c.trim());
  const known = new Set<string>([...columns.required, ...columns.optional]);
  const index: Partial<Record<C, number>> = {};
  const ignored: string[] = [];
  for (const [i, name] of names.entries()) {
    if (!known.has(name)) {
      ignored.push(name);
      continue;
    }
    if (index[name as C] !== undefined) return { ok: false, message: `column ${name} appears twice in the header` };
    index[name as C] = i;
  }
  const missing = columns.required.filter((c) => index[c] === undefined);
  if (missing.length > 0) {
    return { ok: false, message: `the header lacks the required column(s) ${missing.join(', ')} (it has: ${names.join(', ')})` };
  }
  if (columns.strict && ignored.length > 0) {
    return { ok: false, message: `unknown column(s) ${ignored.join(', ')}; the columns are ${[...known].join(', ')}` };
  }
  return { ok: true, header: { index, width: cells.length, ignored } };
}

/** A record whose cells are all empty or blank: an empty line, not a row. */
export function isBlankRecord(cells: string[]): boolean {
  return cells.every((c) => c.trim() === '');
}

/** The zod issues of one row as a skip: the first field names the reason, the message lists them all. */
export function fieldProblems(issues: z.core.$ZodIssue[], columnOf: (field: string) => string): RowSkip {
  const fields = issues.map((issue) => columnOf(String(issue.path[0] ?? 'row')));
  const message = issues.map((issue, i) => `${fields[i]}: ${issue.message}`).join('; ');
  return malformed(reasonFor(fields[0]!), message);
}

/** `invalid_<column>`, snake case: UnitPrice → invalid_unit_price, CustomerID → invalid_customer_id. */
export function reasonFor(column: string): string {
  return `invalid_${column.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()}`;
}

const MAX_ID = 128;

/**
 * The event id of an imported order, derived from the customer and order id so that importing a
 * file again finds every order already stored. `:` and `%` in the customer id are escaped, so two
 * different (customer, order) pairs never share an id; pairs too long for an event id are hashed.
 */
export function importEventId(customerId: string, orderId: string): string {
  const escaped = customerId.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
  const id = `import:${escaped}:${orderId}`;
  if (id.length <= MAX_ID) return id;
  return `import#${createHash('sha256').update(JSON.stringify([customerId, orderId])).digest('hex')}`;
}
