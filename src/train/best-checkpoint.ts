import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError, InputFormatError } from '../errors.js';
import { parseMeasures } from '../eval/measures.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { readTrainerState, restoreWeights, writeWeightFiles } from './checkpoint.js';
import type { BestModelState } from './checkpoint.js';
import { EarlyStopping, isImprovement } from './early-stopping.js';

/**
 * Best-model selection during training, as Hugging Face's Trainer (`metric_for_best_model`,
 * `greater_is_better`, `load_best_model_at_end`) and sentence-transformers' trainer do it: after each
 * evaluation the named metric is compared with the best so far; the best evaluation's weights are kept
 * (in `outputDir/checkpoints/best-step-N` when the run has an output directory, else as one float32 copy
 * in memory, never as tensors) and put back into the model when training ends.
 */

/** Options of best-model selection and early stopping (part of `TrainerOptions`). */
export interface BestModelOptions {
  /**
   * The evaluation result that ranks checkpoints: a key of what `evaluate` returns, or a trec_eval measure
   * name in either form (`ndcg_cut.10` or `ndcg_cut_10`).
   */
  metricForBestModel?: string;
  /** Whether a larger metric is better (default true). */
  greaterIsBetter?: boolean;
  /** At the end of training, put the best evaluation's weights back into the model (needs the metric). */
  loadBestAtEnd?: boolean;
  /** Stop after this many evaluations in a row without improvement (needs the metric). */
  earlyStoppingPatience?: number;
  /** Minimum change of the metric that counts as an improvement for early stopping (default 0). */
  earlyStoppingThreshold?: number;
}

/** The best evaluation of a run, as {@link Trainer.train} returns it. */
export interface BestEvaluation {
  step: number;
  /** The metric's key, e.g. `ndcg_cut_10`. */
  metric: string;
  value: number;
  /** All results of that evaluation. */
  metrics: Record<string, number>;
}

const BEST_RE = /^best-step-(\d+)$/;

/** Directory name (under `checkpoints/`) of the best weights of step `step`. */
export function bestCheckpointName(step: number): string {
  return `best-step-${String(step).padStart(8, '0')}`;
}

/** The evaluation key a metric name means: `ndcg_cut.10` -> `ndcg_cut_10`; other names stay as given. */
export function metricKey(name: string): string {
  try {
    const specs = parseMeasures([name]);
    return specs.length === 1 ? specs[0].key : name;
  } catch {
    return name; // not a trec_eval measure: a key of the caller's own evaluate callback
  }
}

/**
 * Check best-model and early-stopping options (types, ranges, what they need).
 *
 * @throws {ArgumentError} naming the option.
 */
export function checkBestModelOptions(options: BestModelOptions & { evaluate?: unknown }): void {
  const { metricForBestModel: metric, greaterIsBetter, loadBestAtEnd } = options;
  if (metric !== undefined) {
    if (typeof metric !== 'string' || metric.trim() === '') {
      throw new ArgumentError(
        'metricForBestModel',
        `must be a non-empty string, got ${JSON.stringify(metric)}`,
      );
    }
    if (options.evaluate === undefined)
      throw new ArgumentError('metricForBestModel', 'needs an evaluate callback');
  }
  if (greaterIsBetter !== undefined && typeof greaterIsBetter !== 'boolean') {
    throw new ArgumentError('greaterIsBetter', `must be a boolean, got ${JSON.stringify(greaterIsBetter)}`);
  }
  if (loadBestAtEnd !== undefined && typeof loadBestAtEnd !== 'boolean') {
    throw new ArgumentError('loadBestAtEnd', `must be a boolean, got ${JSON.stringify(loadBestAtEnd)}`);
  }
  if (loadBestAtEnd === true && metric === undefined) {
    throw new ArgumentError('loadBestAtEnd', 'needs metricForBestModel (the metric that says which is best)');
  }
  if (options.earlyStoppingPatience !== undefined) {
    if (metric === undefined) throw new ArgumentError('earlyStoppingPatience', 'needs metricForBestModel');
    new EarlyStopping(options.earlyStoppingPatience, options.earlyStoppingThreshold); // range checks
  } else if (options.earlyStoppingThreshold !== undefined) {
    throw new ArgumentError('earlyStoppingThreshold', 'needs earlyStoppingPatience');
  }
}

/**
 * Tracks the best evaluation of a run, keeps its weights and counts early-stopping patience. Its state
 * goes into every checkpoint (`trainer_state.json`'s `bestModel`), so a resumed run keeps the same best and
 * the same counter.
 */
export class BestModelTracker {
  readonly metric: string;
  readonly greaterIsBetter: boolean;
  readonly loadBestAtEnd: boolean;
  private readonly stopping?: EarlyStopping;
  private readonly checkpointsDir?: string;
  private bestSoFar?: BestModelState['best'];
  /** The best weights when there is no output directory: plain arrays, so no tensors outlive a step. */
  private memory?: Float32Array[];

  constructor(options: BestModelOptions & { metricForBestModel: string }, checkpointsDir?: string) {
    this.metric = metricKey(options.metricForBestModel);
    this.greaterIsBetter = options.greaterIsBetter ?? true;
    this.loadBestAtEnd = options.loadBestAtEnd ?? false;
    if (options.earlyStoppingPatience !== undefined) {
      this.stopping = new EarlyStopping(options.earlyStoppingPatience, options.earlyStoppingThreshold);
    }
    this.checkpointsDir = checkpointsDir;
  }

  /** The best evaluation so far. */
  get best(): BestEvaluation | undefined {
    return this.bestSoFar && { metric: this.metric, ...this.bestSoFar };
  }

  /** Whether early stopping's patience is used up. */
  get stopped(): boolean {
    return this.stopping?.stopped ?? false;
  }

  /** What a checkpoint records. */
  get state(): BestModelState {
    return {
      metric: this.metric,
      greaterIsBetter: this.greaterIsBetter,
      ...(this.bestSoFar && { best: this.bestSoFar }),
      patienceCounter: this.stopping?.counter ?? 0,
    };
  }

  /**
   * Continue from a checkpoint's state (`undefined`: the checkpoint was written without best-model tracking).
   *
   * @throws {ArgumentError} `resume` when the checkpoint tracked another metric or direction, or none.
   * @throws {InputFormatError} when the best weights the checkpoint names are missing.
   */
  async resume(state: BestModelState | undefined, checkpoint: string): Promise<void> {
    if (state === undefined) {
      throw new ArgumentError(
        'resume',
        `checkpoint ${checkpoint} was written by a run without metricForBestModel; resume without it or start afresh`,
      );
    }
    if (state.metric !== this.metric || state.greaterIsBetter !== this.greaterIsBetter) {
      throw new ArgumentError(
        'resume',
        `checkpoint ${checkpoint} tracks ${state.metric} (greaterIsBetter ${state.greaterIsBetter}) but this run ` +
          `has ${this.metric} (greaterIsBetter ${this.greaterIsBetter})`,
      );
    }
    this.bestSoFar = state.best;
    if (this.stopping) this.stopping.counter = state.patienceCounter;
    if (this.bestSoFar !== undefined && this.loadBestAtEnd && this.checkpointsDir !== undefined) {
      const dir = path.join(this.checkpointsDir, bestCheckpointName(this.bestSoFar.step));
      if (!(await fs.stat(path.join(dir, 'weights.json')).catch(() => undefined))) {
        throw new InputFormatError(
          `missing: checkpoint ${checkpoint} names step ${this.bestSoFar.step} as the best, whose weights belong here`,
          dir,
        );
      }
    }
    await this.prune();
  }

  /**
   * Record the evaluation of step `step`: a new best (strictly better) keeps the model's current weights
   * (when `loadBestAtEnd`); early stopping counts improvements beyond its threshold.
   *
   * @throws {ArgumentError} `metricForBestModel` when the results do not hold the metric.
   */
  async observe(
    step: number,
    metrics: Record<string, number>,
    variables: tf.Variable[],
  ): Promise<{ value: number; isBest: boolean; stop: boolean }> {
    const value = metrics[this.metric];
    if (typeof value !== 'number') {
      throw new ArgumentError(
        'metricForBestModel',
        `${this.metric} is not among the evaluation results (${Object.keys(metrics).join(', ') || 'none'})`,
      );
    }
    const previous = this.bestSoFar?.value;
    const stop = this.stopping?.observe(value, previous, this.greaterIsBetter) ?? false;
    const isBest = isImprovement(value, previous, this.greaterIsBetter);
    if (isBest) {
      this.bestSoFar = { step, value, metrics: { ...metrics } };
      if (this.loadBestAtEnd) await this.keep(step, variables);
    }
    return { value, isBest, stop };
  }

  private async keep(step: number, variables: tf.Variable[]): Promise<void> {
    if (this.checkpointsDir === undefined) {
      const copies: Float32Array[] = [];
      // `.slice()`: the cpu backend may hand out its own backing array.
      for (const v of variables) copies.push(((await v.data()) as Float32Array).slice());
      this.memory = copies;
      return;
    }
    await writeDirAtomic(path.join(this.checkpointsDir, bestCheckpointName(step)), async (tmp) => {
      await writeWeightFiles(tmp, variables);
      await writeFileAtomic(
        path.join(tmp, 'best.json'),
        JSON.stringify({ step, metric: this.metric, metrics: this.bestSoFar!.metrics }, null, 2) + '\n',
      );
    });
    await this.prune();
  }

  /**
   * Remove best-weight directories that neither the current best nor any remaining checkpoint names (older
   * bests, and those of a killed run's lost tail, which a resumed run recomputes).
   */
  async prune(): Promise<void> {
    if (this.checkpointsDir === undefined) return;
    let names: string[];
    try {
      names = await fs.readdir(this.checkpointsDir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    const keep = new Set<string>();
    if (this.bestSoFar) keep.add(bestCheckpointName(this.bestSoFar.step));
    for (const n of names.filter((n) => /^step-\d+$/.test(n))) {
      const step = (await readTrainerState(path.join(this.checkpointsDir, n))).bestModel?.best?.step;
      if (step !== undefined) keep.add(bestCheckpointName(step));
    }
    for (const n of names.filter((n) => BEST_RE.test(n) && !keep.has(n))) {
      await fs.rm(path.join(this.checkpointsDir, n), { recursive: true, force: true });
    }
  }

  /** Put the best evaluation's weights into `variables` (nothing to do when none was kept). */
  async loadBest(variables: tf.Variable[]): Promise<void> {
    if (this.bestSoFar === undefined || !this.loadBestAtEnd) return;
    if (this.checkpointsDir !== undefined) {
      await restoreWeights(
        path.join(this.checkpointsDir, bestCheckpointName(this.bestSoFar.step)),
        variables,
      );
      return;
    }
    const copies = this.memory;
    if (copies === undefined) return;
    variables.forEach((v, i) => {
      const t = tf.tensor(copies[i], v.shape, 'float32');
      v.assign(t);
      t.dispose();
    });
  }

  /** Drop the in-memory copy of the best weights. */
  dispose(): void {
    this.memory = undefined;
  }
}
