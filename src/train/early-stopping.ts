import { ArgumentError } from '../errors.js';

/**
 * Whether `value` beats `best` (strictly; NaN never does). With `threshold`, it must also differ from it by
 * more than that: Hugging Face's `EarlyStoppingCallback` counts an evaluation as an improvement when
 * `operator(value, best) and abs(value - best) > early_stopping_threshold`.
 *
 * @example
 * ```ts
 * isImprovement(0.42, 0.41, true); // true
 * isImprovement(0.415, 0.41, true, 0.01); // false: better, but not by more than 0.01
 * isImprovement(0.2, undefined, false); // true: the first evaluation always is
 * ```
 */
export function isImprovement(
  value: number,
  best: number | undefined,
  greaterIsBetter: boolean,
  threshold = 0,
): boolean {
  if (Number.isNaN(value)) return false;
  if (best === undefined || Number.isNaN(best)) return true;
  const better = greaterIsBetter ? value > best : value < best;
  return better && Math.abs(value - best) > threshold;
}

/**
 * Early stopping as Hugging Face's `EarlyStoppingCallback` (used by sentence-transformers' trainer): after
 * each evaluation, the counter is reset when the metric improved on the best earlier evaluation by more
 * than `threshold`, and incremented otherwise; training stops once it reaches `patience`.
 *
 * @example
 * ```ts
 * const stopping = new EarlyStopping(2);
 * stopping.observe(0.30, undefined, true); // false (first evaluation)
 * stopping.observe(0.29, 0.30, true); // false (counter 1)
 * stopping.observe(0.30, 0.30, true); // true: no improvement twice in a row
 * ```
 */
export class EarlyStopping {
  readonly patience: number;
  readonly threshold: number;
  /** Evaluations since the last improvement (checkpointed, so a resumed run stops where a straight one would). */
  counter = 0;

  /**
   * @param patience Evaluations without improvement that stop training (an integer >= 1).
   * @param threshold Minimum change that counts as an improvement (>= 0, default 0).
   * @throws {ArgumentError} `earlyStoppingPatience` / `earlyStoppingThreshold` out of range.
   */
  constructor(patience: number, threshold = 0) {
    if (!Number.isInteger(patience) || patience < 1) {
      throw new ArgumentError('earlyStoppingPatience', `must be an integer >= 1, got ${patience}`);
    }
    if (!(Number.isFinite(threshold) && threshold >= 0)) {
      throw new ArgumentError('earlyStoppingThreshold', `must be a finite number >= 0, got ${threshold}`);
    }
    this.patience = patience;
    this.threshold = threshold;
  }

  /** Record one evaluation against the best value before it; returns whether training should stop. */
  observe(value: number, previousBest: number | undefined, greaterIsBetter: boolean): boolean {
    this.counter = isImprovement(value, previousBest, greaterIsBetter, this.threshold) ? 0 : this.counter + 1;
    return this.stopped;
  }

  /** Whether the patience is used up. */
  get stopped(): boolean {
    return this.counter >= this.patience;
  }
}
