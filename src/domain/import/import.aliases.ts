import { createHash } from 'node:crypto';
import { z } from 'zod';
import { aliasFields } from '../events/events.schemas.ts';
import { fieldProblems, malformed, readHeader, type Header, type HeaderResult, type RowResult } from './import.types.ts';

// The aliases format (docs/architecture.md, Import formats): one merge per row, `previous_id`
// into `customer_id`, exactly as an `alias` event would ask for it.
export const ALIAS_FORMAT = 'aliases';
const REQUIRED = ['customer_id', 'previous_id'] as const;
export type AliasColumn = (typeof REQUIRED)[number];

export interface ImportedAlias {
  /** derived from the pair, so importing the file again merges nothing twice */
  eventId: string;
  customerId: string;
  previousId: string;
}

const aliasRow = z.object({ customer_id: aliasFields.customer_id, previous_id: aliasFields.previous_id });

export function readAliasHeader(cells: string[]): HeaderResult<AliasColumn> {
  return readHeader<AliasColumn>(cells, { required: REQUIRED, optional: [], strict: true });
}

export const importAliasId = (customerId: string, previousId: string): string =>
  `import-alias#${createHash('sha256').update(JSON.stringify([customerId, previousId])).digest('hex')}`;

export function createAliasRowReader(header: Header<AliasColumn>): (cells: string[]) => RowResult<ImportedAlias> {
  return (cells) => {
    if (cells.length !== header.width) {
      return malformed('wrong_field_count', `expected ${header.width} fields as in the header, got ${cells.length}`);
    }
    const parsed = aliasRow.safeParse({ customer_id: cells[header.index.customer_id!], previous_id: cells[header.index.previous_id!] });
    if (!parsed.success) return fieldProblems(parsed.error.issues, (f) => f);
    const { customer_id: customerId, previous_id: previousId } = parsed.data;
    return { ok: true, value: { eventId: importAliasId(customerId, previousId), customerId, previousId } };
  };
}
