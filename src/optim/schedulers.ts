import { ArgumentError } from '../errors.js';

/**
 * Learning-rate schedules. Every schedule is a pure function of the step: `lrAt(step)` is the learning rate
 * used by the update numbered `step`, counting from 0 (the first update uses `lrAt(0)`), exactly as
 * Hugging Face's `LambdaLR` schedules do. With a warmup, `lrAt(0)` is therefore 0: the first update does not
 * move the weights, which is what `get_cosine_schedule_with_warmup` does too.
 */

/** A learning-rate schedule: the learning rate of the update numbered `step` (0-based). */
export interface LrScheduler {
  /** Learning rate for update `step` (0-based). Pure: same step, same value. */
  lrAt(step: number): number;
  /** A JSON description (kind and options), stored in checkpoints and logs. */
  toJSON(): Record<string, unknown>;
}

function checkNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new ArgumentError(name, `must be a finite number >= 0, got ${value}`);
  }
}

function checkSteps(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new ArgumentError(name, `must be an integer >= 0, got ${value}`);
  }
}

function checkStep(step: number): void {
  if (!Number.isInteger(step) || step < 0) {
    throw new ArgumentError('step', `must be an integer >= 0, got ${step}`);
  }
}

function checkRange(maxLr: number, minLr: number, warmupSteps: number, totalSteps: number): void {
  checkNonNegative('maxLr', maxLr);
  checkNonNegative('minLr', minLr);
  checkSteps('warmupSteps', warmupSteps);
  checkSteps('totalSteps', totalSteps);
  if (minLr > maxLr) throw new ArgumentError('minLr', `(${minLr}) must not exceed maxLr (${maxLr})`);
  if (warmupSteps > totalSteps) {
    throw new ArgumentError('warmupSteps', `(${warmupSteps}) must not exceed totalSteps (${totalSteps})`);
  }
}

/** Linear warmup factor: `step / warmupSteps` for `step < warmupSteps`, else 1. */
function warmupFactor(step: number, warmupSteps: number): number {
  return step < warmupSteps ? step / warmupSteps : 1;
}

/**
 * Linear warmup 0 -> `maxLr` over `warmupSteps`, then a decay from `maxLr` to `minLr` at `totalSteps` whose
 * shape `decay(p)` (1 at p = 0, 0 at p = 1) the subclass gives. Shared by the cosine and linear schedules.
 */
abstract class WarmupDecayScheduler implements LrScheduler {
  readonly maxLr: number;
  readonly minLr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  protected abstract readonly kind: string;

  constructor(maxLr: number, minLr: number, warmupSteps: number, totalSteps: number) {
    checkRange(maxLr, minLr, warmupSteps, totalSteps);
    this.maxLr = maxLr;
    this.minLr = minLr;
    this.warmupSteps = warmupSteps;
    this.totalSteps = totalSteps;
  }

  /** Fraction of `maxLr - minLr` left at decay progress `p` in [0, 1]. */
  protected abstract decay(p: number): number;

  lrAt(step: number): number {
    checkStep(step);
    if (step < this.warmupSteps) return (this.maxLr * step) / this.warmupSteps;
    const p = Math.min(1, (step - this.warmupSteps) / Math.max(1, this.totalSteps - this.warmupSteps));
    return this.minLr + (this.maxLr - this.minLr) * this.decay(p);
  }

  toJSON(): Record<string, unknown> {
    const { kind, maxLr, minLr, warmupSteps, totalSteps } = this;
    return { kind, maxLr, minLr, warmupSteps, totalSteps };
  }
}

/** Options of {@link WarmupCosineScheduler}. */
export interface WarmupCosineOptions {
  /** Peak learning rate, reached at `warmupSteps`. */
  maxLr: number;
  /** Floor the cosine decays to at `totalSteps` (default 0). */
  minLr?: number;
  /** Updates of linear warmup from 0 to `maxLr`. */
  warmupSteps: number;
  /** Total updates of the run; the cosine reaches `minLr` here and stays there after. */
  totalSteps: number;
}

/**
 * Linear warmup from 0 to `maxLr`, then a half cosine from `maxLr` down to `minLr`:
 *
 * - `step < W`: `lr = maxLr * step / W`  (so `lrAt(0) = 0` when `W > 0`)
 * - `W <= step`: `p = min(1, (step - W) / max(1, T - W))`, `lr = minLr + (maxLr - minLr) * (1 + cos(pi * p)) / 2`
 *
 * so `lrAt(W) = maxLr` and `lrAt(T) = minLr`. With `minLr = 0` this is Hugging Face's
 * `get_cosine_schedule_with_warmup` (one half-cycle).
 *
 * @example
 * ```ts
 * const s = new WarmupCosineScheduler({ maxLr: 2e-5, warmupSteps: 100, totalSteps: 1000 });
 * s.lrAt(0);    // 0
 * s.lrAt(100);  // 2e-5
 * s.lrAt(550);  // 1e-5
 * s.lrAt(1000); // 0
 * ```
 */
export class WarmupCosineScheduler extends WarmupDecayScheduler {
  protected readonly kind = 'warmup-cosine';

  constructor(options: WarmupCosineOptions) {
    super(options.maxLr, options.minLr ?? 0, options.warmupSteps, options.totalSteps);
  }

  protected decay(p: number): number {
    return (1 + Math.cos(Math.PI * p)) / 2;
  }
}

/** Options of {@link LinearScheduler}. */
export interface LinearOptions {
  maxLr: number;
  /** Value reached at `totalSteps` (default 0). */
  minLr?: number;
  /** Linear warmup updates from 0 to `maxLr` (default 0). */
  warmupSteps?: number;
  totalSteps: number;
}

/**
 * Linear warmup 0 -> `maxLr` over `warmupSteps`, then linear decay to `minLr` at `totalSteps` (flat after):
 * `lr = minLr + (maxLr - minLr) * (1 - min(1, (step - W) / max(1, T - W)))`. With `minLr = 0` this is Hugging
 * Face's `get_linear_schedule_with_warmup` and the sentence-transformers default `WarmupLinear`.
 *
 * @example
 * ```ts
 * const s = new LinearScheduler({ maxLr: 1e-4, warmupSteps: 10, totalSteps: 110 });
 * s.lrAt(60); // 5e-5
 * ```
 */
export class LinearScheduler extends WarmupDecayScheduler {
  protected readonly kind = 'linear';

  constructor(options: LinearOptions) {
    super(options.maxLr, options.minLr ?? 0, options.warmupSteps ?? 0, options.totalSteps);
  }

  protected decay(p: number): number {
    return 1 - p;
  }
}

/**
 * The same learning rate at every step.
 *
 * @example
 * ```ts
 * new ConstantScheduler({ lr: 1e-3 }).lrAt(123); // 1e-3
 * ```
 */
export class ConstantScheduler implements LrScheduler {
  readonly lr: number;

  constructor(options: { lr: number }) {
    checkNonNegative('lr', options.lr);
    this.lr = options.lr;
  }

  lrAt(step: number): number {
    checkStep(step);
    return this.lr;
  }

  toJSON(): Record<string, unknown> {
    return { kind: 'constant', lr: this.lr };
  }
}

/**
 * Linear warmup 0 -> `maxLr` over `warmupSteps`, then constant `maxLr`.
 *
 * @example
 * ```ts
 * const s = new WarmupConstantScheduler({ maxLr: 1e-3, warmupSteps: 4 });
 * [0, 1, 4, 99].map((t) => s.lrAt(t)); // [0, 2.5e-4, 1e-3, 1e-3]
 * ```
 */
export class WarmupConstantScheduler implements LrScheduler {
  readonly maxLr: number;
  readonly warmupSteps: number;

  constructor(options: { maxLr: number; warmupSteps: number }) {
    checkNonNegative('maxLr', options.maxLr);
    checkSteps('warmupSteps', options.warmupSteps);
    this.maxLr = options.maxLr;
    this.warmupSteps = options.warmupSteps;
  }

  lrAt(step: number): number {
    checkStep(step);
    return this.maxLr * warmupFactor(step, this.warmupSteps);
  }

  toJSON(): Record<string, unknown> {
    return { kind: 'warmup-constant', maxLr: this.maxLr, warmupSteps: this.warmupSteps };
  }
}

/**
 * Set the learning rate of any tfjs optimizer (`tf.train.sgd`, `adam`, ...) before its update, so these
 * schedules can drive optimizers other than our `AdamW`. tfjs optimizers read their `learningRate`
 * field on every `applyGradients`, but only SGD exposes a setter, hence the field write.
 *
 * @example
 * ```ts
 * const opt = tf.train.adam(1e-3);
 * for (let step = 0; step < total; step++) {
 *   setOptimizerLearningRate(opt, schedule.lrAt(step));
 *   opt.minimize(lossFn);
 * }
 * ```
 */
export function setOptimizerLearningRate(optimizer: object, lr: number): void {
  checkNonNegative('lr', lr);
  const o = optimizer as { setLearningRate?: (lr: number) => void; learningRate?: number };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else if ('learningRate' in o) o.learningRate = lr;
  else throw new ArgumentError('optimizer', 'has no learningRate to set');
}
