import { promises as fs } from 'node:fs';
import type * as tf from '@tensorflow/tfjs';
import { InputFormatError } from '../errors.js';
import type { Progress } from '../util/progress.js';
import type { BestModelTracker } from './best-checkpoint.js';

/**
 * The evaluation history of a run: one JSON line per evaluation in `outputDir/eval_log.jsonl` (next to
 * `train_log.jsonl`, whose logged steps also carry the results under `eval`), and the one-line summary the
 * Trainer prints for each.
 */

/** File name of the evaluation history in a run's output directory. */
export const EVAL_LOG = 'eval_log.jsonl';

/** One evaluation during training: a line of {@link EVAL_LOG}. */
export interface EvaluationRecord {
  /** Updates completed when the model was evaluated. */
  step: number;
  epoch: number;
  /** What the `evaluate` callback returned, e.g. `{ ndcg_cut_10: 0.41, recall_100: 0.83 }`. */
  metrics: Record<string, number>;
  /** With `metricForBestModel`: the best evaluation so far, this one included. */
  best?: { step: number; metric: string; value: number };
  /** With `metricForBestModel`: whether this evaluation is the new best. */
  isBest?: boolean;
}

/** Metric values as `name 0.1234` (4 decimals; trec_eval's counts `num_*` as integers, as it prints them). */
function values(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([name, v]) => `${name} ${name.startsWith('num_') ? v : v.toFixed(4)}`)
    .join(', ');
}

/**
 * The one-line summary of an evaluation the Trainer prints (through its progress reporter, so it follows
 * `quiet` and keeps a TTY bar intact).
 *
 * @example
 * ```ts
 * formatEvaluationLine({ step: 40, epoch: 1, metrics: { ndcg_cut_10: 0.4123 },
 *   best: { step: 40, metric: 'ndcg_cut_10', value: 0.4123 }, isBest: true }, 100);
 * // 'eval step 40/100: ndcg_cut_10 0.4123 (new best)'
 * ```
 */
export function formatEvaluationLine(record: EvaluationRecord, totalSteps?: number): string {
  const at = totalSteps === undefined ? `${record.step}` : `${record.step}/${totalSteps}`;
  let best = '';
  if (record.isBest) best = ' (new best)';
  else if (record.best !== undefined) {
    best = `; best ${record.best.metric} ${record.best.value.toFixed(4)} at step ${record.best.step}`;
  }
  return `eval step ${at}: ${values(record.metrics)}${best}`;
}

/**
 * Read a run's evaluation history (`[]` when the file does not exist).
 *
 * @throws {InputFormatError} naming `file:line` for a line that is not an evaluation record.
 * @example
 * ```ts
 * const history = await readEvaluationLog('runs/scifact/eval_log.jsonl');
 * history.map((r) => r.metrics.ndcg_cut_10);
 * ```
 */
export async function readEvaluationLog(file: string): Promise<EvaluationRecord[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const records: EvaluationRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r: EvaluationRecord;
    try {
      r = JSON.parse(line) as EvaluationRecord;
    } catch (error) {
      throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file, i + 1);
    }
    if (
      r === null ||
      typeof r !== 'object' ||
      !Number.isInteger(r.step) ||
      r.metrics === null ||
      typeof r.metrics !== 'object'
    ) {
      throw new InputFormatError('expected an evaluation record with "step" and "metrics"', file, i + 1);
    }
    records.push(r);
  });
  return records;
}

/**
 * What the Trainer does with one evaluation's results: best-model tracking (which may keep the weights),
 * a line in `file` (whole lines per append: a killed run leaves complete records only), the one-line
 * summary through `progress`, then the `onEvaluate` callback. Returns the record.
 */
export async function recordEvaluation(
  at: {
    step: number;
    epoch: number;
    metrics: Record<string, number>;
    totalSteps: number;
    variables: tf.Variable[];
    progress: Progress;
  },
  options: {
    tracker?: BestModelTracker;
    file?: string;
    onEvaluate?: (record: EvaluationRecord) => void | Promise<void>;
  },
): Promise<EvaluationRecord> {
  const { step, epoch, metrics } = at;
  const { tracker } = options;
  const seen = await tracker?.observe(step, metrics, at.variables);
  const best = tracker?.best;
  const record: EvaluationRecord = {
    step,
    epoch,
    metrics,
    ...(best && {
      best: { step: best.step, metric: best.metric, value: best.value },
      isBest: seen!.isBest,
    }),
  };
  if (options.file !== undefined) await fs.appendFile(options.file, JSON.stringify(record) + '\n');
  at.progress.log(formatEvaluationLine(record, at.totalSteps));
  await options.onEvaluate?.(record);
  return record;
}
