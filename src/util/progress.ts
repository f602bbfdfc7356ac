/**
 * A small progress reporter for long work (training, encoding a corpus, building an index). It draws a bar
 * with rate and ETA on a TTY. When the stream is not a TTY (a log file, CI, `nohup`), where a redrawn bar
 * would be garbage, it writes a plain line at most every `lineIntervalMs` (count, rate, elapsed, ETA and the
 * extras), so minutes of work are never minutes of silence; work shorter than that interval prints nothing.
 * `quiet` silences both.
 */

import { checkOptionKeys, optionKeys } from './options.js';

export interface ProgressOptions {
  /** Total units of work (steps, texts, vectors); 0 or undefined draws a counter without a bar. */
  total?: number;
  /** What is counted, shown before the bar, e.g. `encode`. */
  label?: string;
  /** Units shown in the rate, e.g. `texts`. */
  unit?: string;
  /** Print nothing at all. */
  quiet?: boolean;
  /** Where to draw; defaults to `process.stderr`. */
  stream?: NodeJS.WriteStream;
  /** Minimum milliseconds between redraws. */
  intervalMs?: number;
  /** Not on a TTY: milliseconds between plain progress lines; default 30 000. */
  lineIntervalMs?: number;
}

const PROGRESSOPTIONS_KEYS = optionKeys<ProgressOptions>({
  total: true,
  label: true,
  unit: true,
  quiet: true,
  stream: true,
  intervalMs: true,
  lineIntervalMs: true,
});

export interface Progress {
  /** Advance by `n` units, with optional extra fields (e.g. `{loss: '0.41'}`) shown after the bar. */
  tick(n?: number, extras?: Record<string, string | number>): void;
  /** Finish the bar (draws the final state and a newline). */
  done(): void;
  /**
   * Print one line of news (e.g. an evaluation's results) above the bar: on a TTY the bar is cleared, the
   * line written and the bar redrawn; otherwise the line is written at once; nothing when `quiet`.
   */
  log(message: string): void;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Create a progress reporter. See {@link ProgressOptions}. */
export function createProgress(options: ProgressOptions = {}): Progress {
  checkOptionKeys('createProgress', options, PROGRESSOPTIONS_KEYS);
  const stream = options.stream ?? process.stderr;
  const enabled = !options.quiet && stream.isTTY === true;
  const lines = !options.quiet && stream.isTTY !== true;
  const lineInterval = options.lineIntervalMs ?? 30_000;
  const total = options.total ?? 0;
  const label = options.label ?? '';
  const unit = options.unit ?? 'it';
  const interval = options.intervalMs ?? 100;
  const start = Date.now();
  let count = 0;
  let lastDraw = 0;
  let extras: Record<string, string | number> = {};
  let finished = false;
  let lastLine = start;
  let linesWritten = 0;

  const describe = (now: number): string => {
    const elapsed = (now - start) / 1000;
    const rate = elapsed > 0 ? count / elapsed : 0;
    const extra = Object.entries(extras).map(([k, v]) => `${k}=${v}`);
    const done =
      total > 0 ? `${count}/${total} ${unit} (${Math.floor((100 * count) / total)}%)` : `${count} ${unit}`;
    const eta = total > 0 && rate > 0 ? ` ETA ${formatDuration((total - count) / rate)}` : '';
    return [
      `${label}:`,
      done,
      ...extra,
      `${rate.toFixed(2)} ${unit}/s`,
      `elapsed ${formatDuration(elapsed)}${eta}`,
    ]
      .join(' ')
      .trim();
  };

  const line = (force: boolean): void => {
    if (!lines) return;
    const now = Date.now();
    // The final line only closes a run that already printed lines: short work stays silent.
    if (force ? linesWritten === 0 : now - lastLine < lineInterval) return;
    lastLine = now;
    linesWritten++;
    stream.write(`${describe(now)}\n`);
  };

  const draw = (force: boolean): void => {
    if (!enabled) return;
    const now = Date.now();
    if (!force && now - lastDraw < interval) return;
    lastDraw = now;
    const elapsed = (now - start) / 1000;
    const rate = elapsed > 0 ? count / elapsed : 0;
    const extra = Object.entries(extras)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    let line: string;
    if (total > 0) {
      const frac = Math.min(1, count / total);
      const width = 24;
      const filled = Math.round(frac * width);
      const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
      const eta = rate > 0 ? (total - count) / rate : Number.NaN;
      line = `${label} [${bar}] ${count}/${total} ${rate.toFixed(1)} ${unit}/s ETA ${formatDuration(eta)} ${extra}`;
    } else {
      line = `${label} ${count} ${rate.toFixed(1)} ${unit}/s ${formatDuration(elapsed)} ${extra}`;
    }
    const columns = stream.columns ?? 120;
    stream.write(`\r${line.trimEnd().slice(0, columns - 1)}\x1b[K`);
  };

  return {
    tick(n = 1, more) {
      count += n;
      if (more) extras = { ...extras, ...more };
      draw(false);
      line(false);
    },
    log(message) {
      if (options.quiet) return;
      if (enabled && !finished) {
        stream.write(`\r\x1b[K${message}\n`);
        draw(true);
      } else {
        stream.write(`${message}\n`);
      }
    },
    done() {
      if (finished) return;
      finished = true;
      draw(true);
      line(true);
      if (enabled) stream.write('\n');
    },
  };
}
