import type { RowSkip } from './import.types.ts';

export interface RowProblem {
  line: number;
  /** the last line, for unreadable text spanning several lines */
  to_line?: number;
  reason: string;
  message: string;
}

/** Skipped rows: every one counted by reason, the first `maxProblems` malformed ones kept with their line. */
export interface SkipTally {
  /** Skips `rows` rows (several for unreadable CSV text spanning lines) under `skip.reason`. */
  add(line: number, skip: RowSkip, rows?: number): void;
  total(): number;
  byReason(): Record<string, number>;
  problems(): RowProblem[];
  /** malformed rows counted but not listed */
  problemsOmitted(): number;
}

export function createSkipTally(maxProblems: number): SkipTally {
  const counts = new Map<string, number>();
  const problems: RowProblem[] = [];
  let total = 0;
  let malformedRows = 0;
  return {
    add(line, skip, rows = 1) {
      total += rows;
      counts.set(skip.reason, (counts.get(skip.reason) ?? 0) + rows);
      if (!skip.malformed) return;
      malformedRows += 1;
      if (problems.length >= maxProblems) return;
      problems.push({ line, ...(rows > 1 ? { to_line: line + rows - 1 } : {}), reason: skip.reason, message: skip.message });
    },
    total: () => total,
    byReason: () => Object.fromEntries([...counts].sort(([a, x], [b, y]) => y - x || a.localeCompare(b))),
    problems: () => problems,
    problemsOmitted: () => malformedRows - problems.length,
  };
}
