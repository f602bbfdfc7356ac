/**
 * The demo as a function of its command-line arguments, so that the test runs exactly what
 * `npm run demo` runs, in process (and can watch `tf.memory()`).
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { currentBackend, initBackend, writeDirAtomic, writeFileAtomic } from '../../src/index.js';
import { parseDemoArgs } from './options.js';
import { writeDemoModelCard } from './model-card.js';
import { formatConsoleTable, renderReport, reportPlots } from './report.js';
import { runStudy } from './study.js';
import type { StudyResult } from './study.js';

/** A path relative to the working directory when it is inside it, else absolute. */
function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/** Where the demo wrote its outputs, and what it measured. */
export interface DemoOutput {
  dir: string;
  report: string;
  result: StudyResult;
}

/**
 * Run the demo: parse `argv`, train and evaluate, print the table, and write `<out>/report.md`, the SVG
 * plots, `results.json`, `train_log.jsonl` and the trained `model/` as one atomically replaced directory.
 * Returns `undefined` for `--help`.
 *
 * @throws {ArgumentError} for a bad flag, {@link DenseRetrievalError} subclasses for bad data.
 * @example
 * ```ts
 * const out = await runDemo(['--quick', '--out', '/tmp/demo', '--quiet']);
 * console.log(out?.report); // /tmp/demo/report.md
 * ```
 */
export async function runDemo(argv: string[]): Promise<DemoOutput | undefined> {
  const started = performance.now();
  const options = parseDemoArgs(argv);
  if (options === undefined) return undefined;
  const log = (m: string): void => {
    if (!options.quiet) process.stderr.write(`${m}\n`);
  };
  const backend = currentBackend() ?? (await initBackend());
  log(`[demo] backend: ${backend}`);
  const { result, model } = await runStudy(options, log, backend);
  const dir = path.resolve(options.out);
  const report = path.join(dir, 'report.md');
  const command = `npm run demo${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  // One atomic directory: a killed run leaves the previous output whole, never a report without its model.
  let disposed = false;
  let card: string | undefined;
  try {
    await writeDirAtomic(dir, async (tmp) => {
      try {
        const t0 = performance.now();
        await model.save(path.join(tmp, 'model'));
        result.timings.push({ phase: 'save model', seconds: (performance.now() - t0) / 1000 });
        card = await writeDemoModelCard(path.join(tmp, 'model'), result);
      } finally {
        model.dispose();
        disposed = true;
      }
      result.tensors.after = tf.memory().numTensors;
      result.totalSeconds = (performance.now() - started) / 1000;
      for (const [name, svg] of Object.entries(reportPlots(result))) {
        await writeFileAtomic(path.join(tmp, name), svg);
      }
      await writeFileAtomic(
        path.join(tmp, 'train_log.jsonl'),
        result.training.history.map((r) => JSON.stringify(r)).join('\n') + '\n',
      );
      await writeFileAtomic(path.join(tmp, 'results.json'), JSON.stringify(result, null, 2) + '\n');
      await writeFileAtomic(path.join(tmp, 'report.md'), renderReport(result, command, card));
    });
  } finally {
    if (!disposed) model.dispose();
  }
  process.stdout.write(`\n${formatConsoleTable(result)}\n\nReport: ${displayPath(report)}\n`);
  return { dir, report, result };
}
