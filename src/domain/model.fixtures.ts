// The CDNOW summary (test/fixtures, lifetimes' copy of Fader & Hardie's data) for the model tests.
import { readFileSync } from 'node:fs';

export interface CdnowRow {
  id: number;
  x: number;
  t_x: number;
  T: number;
  zbar: number;
}

export function loadCdnowSummary(): CdnowRow[] {
  const text = readFileSync(new URL('../../test/fixtures/cdnow_customers_summary_with_transactions.csv', import.meta.url), 'utf8');
  return text
    .trim()
    .split(/\r?\n/)
    .slice(1)
    .map((line) => {
      const [id, x, t_x, T, zbar] = line.split(',').map(Number);
      return { id: id!, x: x!, t_x: t_x!, T: T!, zbar: zbar! };
    });
}

/** lifetimes' BG/NBD MLE on this data (docs/Quickstart.md, full precision) */
export const CDNOW_BGNBD = { r: 0.242593, alpha: 4.413532, a: 0.792886, b: 2.425752 };
export const CDNOW_GAMMA_GAMMA = { p: 6.248803, q: 3.744588, v: 15.447746 };
