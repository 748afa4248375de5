/**
 * Spreadsheet formula injection (OWASP "CSV Injection"): a cell that starts with `=`, `+`, `-`,
 * `@`, a tab or a carriage return may be run as a formula when the file is opened in a
 * spreadsheet. Such a cell is prefixed with a single quote, which makes it plain text there;
 * quoting the cell for CSV itself is the CSV writer's job.
 */
const FORMULA_LEAD = /^[=+\-@\t\r]/;

export function neutraliseFormula(value: string): string {
  return FORMULA_LEAD.test(value) ? `'${value}` : value;
}
