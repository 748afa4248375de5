import cliProgress from 'cli-progress';
import type { ImportProgress } from '../services/import.service.ts';

/** Shows an import's progress: a live bar on a terminal, plain lines (every tenth of the way) anywhere else. */
export interface ProgressView {
  reading(p: ImportProgress): void;
  phase(message: string): void;
  rescoring(fraction: number): void;
  stop(): void;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');

export function createProgressView(stream: NodeJS.WriteStream): ProgressView {
  return stream.isTTY ? barView(stream) : lineView(stream);
}

function barView(stream: NodeJS.WriteStream): ProgressView {
  const started = Date.now();
  let bar: cliProgress.SingleBar | undefined;
  const open = (label: string, total: number) => {
    bar?.stop();
    bar = new cliProgress.SingleBar(
      { stream, hideCursor: true, format: `${label.padEnd(10)} {bar} {percentage}% | {detail}`, fps: 10 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { detail: '' });
  };
  let reading = false;
  let rescoring = false;
  return {
    reading(p) {
      if (!reading) open('reading', Math.max(p.bytesTotal, 1));
      reading = true;
      const rate = p.rows / Math.max((Date.now() - started) / 1000, 0.001);
      bar!.update(p.bytesRead, { detail: `${int(p.rows)} rows, ${int(rate)} rows/s` });
    },
    phase(message) {
      bar?.stop();
      bar = undefined;
      reading = false;
      stream.write(`${message}\n`);
    },
    rescoring(fraction) {
      if (!rescoring) open('rescoring', 1000);
      rescoring = true;
      bar!.update(Math.round(fraction * 1000), { detail: 'customers' });
    },
    stop() {
      bar?.stop();
    },
  };
}

function lineView(stream: NodeJS.WriteStream): ProgressView {
  const started = Date.now();
  let shownRead = -1;
  let shownRescore = -1;
  const tenth = (fraction: number) => Math.min(10, Math.floor(fraction * 10));
  return {
    reading(p) {
      const step = tenth(p.bytesRead / Math.max(p.bytesTotal, 1));
      if (step <= shownRead) return;
      shownRead = step;
      const rate = p.rows / Math.max((Date.now() - started) / 1000, 0.001);
      stream.write(`import: ${step * 10}% read, ${int(p.rows)} rows, ${int(rate)} rows/s\n`);
    },
    phase(message) {
      stream.write(`import: ${message}\n`);
    },
    rescoring(fraction) {
      const step = tenth(fraction);
      if (step <= shownRescore) return;
      shownRescore = step;
      stream.write(`import: rescoring ${step * 10}%\n`);
    },
    stop() {},
  };
}
