/**
 * Keeps every physical line of a CSV file accounted for. The parser yields records (each ending
 * on a known line, possibly spanning several through quoted newlines) and, separately, errors for
 * text it could not read; after a quoting error it may swallow a few lines before it finds its
 * feet again. Whatever lies between one record and the next is therefore reported as unreadable
 * lines, with the parser's error, instead of vanishing.
 */
export interface LineGap {
  from: number;
  to: number;
  message: string;
}

export interface LineLedger {
  /** The parser could not read the text around `line`. */
  noteError(line: number, message: string): void;
  /** A record ended on `endLine` after spanning `extraLines` more; returns the unread lines before it, if any. */
  record(endLine: number, extraLines: number): LineGap | undefined;
  /** The input ended on `lastLine`; returns the unread lines at its end, if any. */
  finish(lastLine: number): LineGap | undefined;
}

export function createLineLedger(): LineLedger {
  let next = 1;
  // In line order. The parser runs ahead of the records being read, so some may lie past them.
  const errors: { line: number; message: string }[] = [];
  const takeErrorsUpTo = (line: number) => {
    let n = 0;
    while (n < errors.length && errors[n]!.line <= line) n++;
    return errors.splice(0, n).map((e) => e.message);
  };
  const gapUpTo = (to: number): LineGap | undefined => {
    if (to < next) return undefined;
    const messages = takeErrorsUpTo(to);
    const gap = { from: next, to, message: messages.length > 0 ? messages.join('; ') : 'unreadable CSV' };
    next = to + 1;
    return gap;
  };
  return {
    noteError(line, message) {
      errors.push({ line, message });
    },
    record(endLine, extraLines) {
      // A quoting error is noticed where the parser gives up, which can be the line after the
      // ones it swallowed: the first line of the next record.
      const gap = gapUpTo(endLine - extraLines - 1);
      if (gap && gap.message === 'unreadable CSV') gap.message = takeErrorsUpTo(endLine - extraLines).join('; ') || gap.message;
      // Any other error up to here was met inside what the parser then read as this record.
      takeErrorsUpTo(endLine);
      next = endLine + 1;
      return gap;
    },
    finish(lastLine) {
      return gapUpTo(Math.max(lastLine, ...errors.map((e) => e.line)));
    },
  };
}

/** Lines a record spans beyond its first: the newlines inside its quoted fields, counted as csv-parse counts them. */
export function extraLines(cells: string[]): number {
  let n = 0;
  for (const cell of cells) {
    for (let i = cell.indexOf('\n'); i !== -1; i = cell.indexOf('\n', i + 1)) n++;
    for (let i = cell.indexOf('\r'); i !== -1; i = cell.indexOf('\r', i + 1)) n++;
  }
  return n;
}
