/**
 * Progress of a long command (`warm`): a live bar on a terminal (cli-progress: done/total, rate,
 * ETA), plain lines otherwise (logs, CI, pipes), where a redrawn bar would be noise.
 */
import cliProgress from 'cli-progress';
import { formatCount, formatDuration } from './format.js';

/** A stream progress is written to: a terminal when `isTTY` is true. */
export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Options of {@link createProgressReporter}. */
export interface ProgressOptions {
  /** Where progress goes. The bar is drawn when `stream.isTTY` is true, plain lines otherwise. */
  stream: ProgressStream;
  /** What the lines start with (`warm`). */
  title: string;
  /** What is counted, plural (`records`). */
  unit: string;
  /** Plain lines: one every `every` updates (and one at the end). Default 10. */
  every?: number;
  /** The clock, in ms. Default `performance.now`. */
  now?: () => number;
}

/** Reports progress; see {@link createProgressReporter}. */
export interface ProgressReporter {
  /** Starts at 0 of `total`. */
  start(total: number): void;
  /** `done` so far; `label` names what is being worked on (`Question@v2`). */
  update(done: number, label: string): void;
  /** Ends the bar (or writes the last line). */
  stop(): void;
}

/** Units per second over the whole run so far. */
function rateOf(done: number, ms: number): number {
  return ms > 0 ? (done * 1000) / ms : 0;
}

/**
 * A progress reporter for `stream`: a cli-progress bar on a terminal, plain lines otherwise
 * (`warm: 2,000/7,000 records (29%), 1,830 records/s, ETA 3s, Question@v2`).
 */
export function createProgressReporter(options: ProgressOptions): ProgressReporter {
  const now = options.now ?? (() => performance.now());
  return options.stream.isTTY === true ? barReporter(options, now) : lineReporter(options, now);
}

function barReporter(options: ProgressOptions, now: () => number): ProgressReporter {
  const bar = new cliProgress.SingleBar(
    {
      stream: options.stream as NodeJS.WritableStream,
      format: `${options.title} {bar} {value}/{total} ${options.unit} | {rate} ${options.unit}/s | ETA {eta_formatted} | {label}`,
      barsize: 30,
      // No terminal modes to restore: a Ctrl-C must leave the cursor and line wrapping as they
      // were (lines longer than the terminal are cut instead).
      hideCursor: false,
      linewrap: true,
      // Redraw on every update: a warm batch is already coarse.
      fps: 20,
      etaBuffer: 20,
      formatValue: (value, _options, type) =>
        type === 'value' || type === 'total' ? formatCount(value) : String(value),
    },
    cliProgress.Presets.shades_classic,
  );
  let started = 0;
  let total = 0;
  return {
    start(count) {
      started = now();
      total = count;
      bar.start(count, 0, { rate: '0', label: '' });
    },
    update(done, label) {
      if (done > total) {
        total = done;
        bar.setTotal(total);
      }
      bar.update(done, { rate: formatCount(Math.round(rateOf(done, now() - started))), label });
    },
    stop() {
      bar.stop();
    },
  };
}

function lineReporter(options: ProgressOptions, now: () => number): ProgressReporter {
  const every = options.every ?? 10;
  let started = 0;
  let total = 0;
  let updates = 0;
  let last = { done: 0, label: '' };
  let printed = -1;
  const line = (done: number, label: string) => {
    const elapsed = now() - started;
    const rate = rateOf(done, elapsed);
    const percent = total > 0 ? ` (${Math.floor((done * 100) / total)}%)` : '';
    const eta = rate > 0 && total > done ? `, ETA ${formatDuration(((total - done) / rate) * 1000)}` : '';
    options.stream.write(
      `${options.title}: ${formatCount(done)}/${formatCount(total)} ${options.unit}${percent}, ${formatCount(Math.round(rate))} ${options.unit}/s${eta}${label ? `, ${label}` : ''}\n`,
    );
    printed = done;
  };
  return {
    start(count) {
      started = now();
      total = count;
    },
    update(done, label) {
      total = Math.max(total, done);
      last = { done, label };
      updates += 1;
      if (updates % every === 0) line(done, label);
    },
    stop() {
      if (printed !== last.done) line(last.done, last.label);
    },
  };
}
