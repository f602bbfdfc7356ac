import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError, InputFormatError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { checkFloat32Entries, float32Sha256, readFloat32File } from '../util/float32-file.js';

/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter), matching `torch.optim.AdamW` step for step,
 * including bias correction. tfjs ships Adam but not AdamW, and its optimizers cannot exclude parameters
 * from weight decay by name, hence our own.
 */

/** Options of {@link AdamW}. */
export interface AdamWOptions {
  /** Exponential decay of the first moment (default 0.9). */
  beta1?: number;
  /** Exponential decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the denominator for stability (default 1e-8, as torch). */
  epsilon?: number;
  /** Decoupled weight decay coefficient (default 0.01, as torch and sentence-transformers). */
  weightDecay?: number;
  /**
   * Which variables get no weight decay, by variable name. Default {@link defaultNoDecay}: biases and
   * LayerNorm weights, the BERT recipe.
   */
  noDecay?: (variableName: string) => boolean;
}

/**
 * Default weight-decay exclusion: names ending in `bias`, and LayerNorm / layer-norm parameters.
 *
 * @example
 * ```ts
 * defaultNoDecay('encoder.layer.0.output.LayerNorm.weight'); // true
 * defaultNoDecay('encoder.layer.0.output.dense.weight');     // false
 * ```
 */
export function defaultNoDecay(name: string): boolean {
  return /bias$/i.test(name) || /layer_?norm/i.test(name);
}

/** Serialisable optimizer state (what {@link AdamW.saveState} writes). */
export interface AdamWStateManifest {
  format: 'dense-retrieval.adamw';
  version: 1;
  /** Updates applied so far (the `t` of the bias correction). */
  step: number;
  options: { beta1: number; beta2: number; epsilon: number; weightDecay: number };
  /**
   * Per variable: name, position in the variable list given to `saveState` (if any), shape and float32
   * offset of `m` then `v` in `optimizer.bin`.
   */
  slots: { name: string; index?: number; shape: number[]; offset: number }[];
  /** sha256 of optimizer.bin (absent in states written before it was recorded). */
  sha256?: string;
}

interface Slot {
  m: tf.Variable;
  v: tf.Variable;
}

function checkProb(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0 || v >= 1) throw new ArgumentError(name, `must be in [0, 1), got ${v}`);
}

const ADAMWOPTIONS_KEYS = optionKeys<AdamWOptions>({
  beta1: true,
  beta2: true,
  epsilon: true,
  weightDecay: true,
  noDecay: true,
});

/**
 * AdamW: for each variable `p` with gradient `g`, at update `t` (1-based) with learning rate `lr`:
 *
 * ```
 * p <- p * (1 - lr * weightDecay)          (skipped for noDecay(p.name))
 * m <- beta1 * m + (1 - beta1) * g
 * v <- beta2 * v + (1 - beta2) * g^2
 * p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
 * ```
 *
 * The learning rate is passed to every {@link AdamW.applyGradients} call, so a scheduler drives it. Moments
 * are kept per variable name (tfjs variable names are unique), which is also how state is saved and
 * restored for resuming.
 *
 * @example
 * ```ts
 * const opt = new AdamW({ weightDecay: 0.01 });
 * const { grads } = loss.computeGradients(model.queryEncoder, model.passageEncoder, batch);
 * clipGradNorm(grads, 1.0);
 * opt.applyGradients(grads, schedule.lrAt(step));
 * for (const g of grads.values()) g.dispose();
 * ```
 */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly noDecay: (name: string) => boolean;
  private slots = new Map<string, Slot>();
  private t = 0;

  constructor(options: AdamWOptions = {}) {
    checkOptionKeys('AdamW', options, ADAMWOPTIONS_KEYS);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.noDecay = options.noDecay ?? defaultNoDecay;
    checkProb('beta1', this.beta1);
    checkProb('beta2', this.beta2);
    if (!(this.epsilon > 0)) throw new ArgumentError('epsilon', `must be > 0, got ${this.epsilon}`);
    if (!(this.weightDecay >= 0)) {
      throw new ArgumentError('weightDecay', `must be >= 0, got ${this.weightDecay}`);
    }
  }

  /** Updates applied so far. */
  get step(): number {
    return this.t;
  }

  /** Whether `variable` gets weight decay under this optimizer's rule. */
  decays(variable: tf.Variable): boolean {
    return this.weightDecay > 0 && !this.noDecay(variable.name);
  }

  /**
   * Apply one update with learning rate `lr`. `grads` maps each variable to its gradient; the gradients
   * are read, not disposed (the caller owns them). Variables without a gradient are left alone and keep
   * their moments, as in torch.
   */
  applyGradients(grads: Map<tf.Variable, tf.Tensor>, lr: number): void {
    if (!Number.isFinite(lr) || lr < 0)
      throw new ArgumentError('lr', `must be a finite number >= 0, got ${lr}`);
    for (const [variable, g] of grads) {
      if (!variable.trainable) continue;
      if (g.shape.join(',') !== variable.shape.join(',')) {
        throw new ArgumentError(
          'grads',
          `gradient of '${variable.name}' has shape [${g.shape}] but the variable has shape [${variable.shape}]`,
        );
      }
    }
    this.t += 1;
    const t = this.t;
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (const [variable, g] of grads) {
      if (!variable.trainable) continue;
      const slot = this.slotFor(variable);
      tf.tidy(() => {
        const m = slot.m.mul(this.beta1).add(g.mul(1 - this.beta1));
        const v = slot.v.mul(this.beta2).add(g.square().mul(1 - this.beta2));
        slot.m.assign(m);
        slot.v.assign(v);
        const denom = v.sqrt().div(sqrtBc2).add(this.epsilon);
        const decayed = this.decays(variable) ? variable.mul(1 - lr * this.weightDecay) : variable;
        variable.assign(decayed.sub(m.div(denom).mul(stepSize)));
      });
    }
  }

  private slotFor(variable: tf.Variable): Slot {
    let slot = this.slots.get(variable.name);
    if (!slot) {
      // tidy frees the zeros the variables were initialised from (a variable does not own them).
      slot = tf.tidy(() => ({
        m: tf.variable(tf.zerosLike(variable), false),
        v: tf.variable(tf.zerosLike(variable), false),
      }));
      this.slots.set(variable.name, slot);
    } else if (slot.m.shape.join(',') !== variable.shape.join(',')) {
      throw new ArgumentError(
        'variable',
        `'${variable.name}' has shape [${variable.shape}] but its optimizer state has [${slot.m.shape}]`,
      );
    }
    return slot;
  }

  /**
   * Write the state (step, moments) to `dir` as `optimizer.json` + `optimizer.bin` (float32, little
   * endian), each atomically. Used by the Trainer's checkpoints. With `variables`, each slot also records
   * its variable's position in that list, so {@link AdamW.loadState} can restore it onto a model whose
   * variables have other names (tfjs renames variables created twice in one process).
   */
  async saveState(dir: string, variables?: tf.Variable[]): Promise<void> {
    const names = [...this.slots.keys()].sort();
    const indexOf = new Map((variables ?? []).map((v, i) => [v.name, i]));
    const slots: AdamWStateManifest['slots'] = [];
    let offset = 0;
    const parts: Float32Array[] = [];
    for (const name of names) {
      const s = this.slots.get(name)!;
      const m = (await s.m.data()) as Float32Array;
      const v = (await s.v.data()) as Float32Array;
      slots.push({ name, index: indexOf.get(name), shape: s.m.shape.slice(), offset });
      parts.push(m, v);
      offset += m.length + v.length;
    }
    const all = new Float32Array(offset);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    const manifest: AdamWStateManifest = {
      format: 'dense-retrieval.adamw',
      version: 1,
      step: this.t,
      options: { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: this.weightDecay },
      slots,
      sha256: float32Sha256(all),
    };
    await writeFileAtomic(path.join(dir, 'optimizer.bin'), new Uint8Array(all.buffer));
    await writeFileAtomic(path.join(dir, 'optimizer.json'), JSON.stringify(manifest, null, 2) + '\n');
  }

  /**
   * Restore the state written by {@link AdamW.saveState}, replacing any current state. With `variables`
   * (the same list, in the same order, as when saved), slots are matched by position and shape-checked.
   */
  async loadState(dir: string, variables?: tf.Variable[]): Promise<void> {
    const jsonFile = path.join(dir, 'optimizer.json');
    const binFile = path.join(dir, 'optimizer.bin');
    let manifest: AdamWStateManifest;
    try {
      manifest = JSON.parse(await fs.readFile(jsonFile, 'utf8')) as AdamWStateManifest;
    } catch (error) {
      throw new InputFormatError(`cannot read optimizer state: ${(error as Error).message}`, jsonFile);
    }
    if (manifest === null || typeof manifest !== 'object') {
      throw new InputFormatError('expected a JSON object', jsonFile);
    }
    if (manifest.format !== 'dense-retrieval.adamw' || manifest.version !== 1) {
      throw new InputFormatError(`not an AdamW state (format ${String(manifest.format)})`, jsonFile);
    }
    if (!Number.isSafeInteger(manifest.step) || manifest.step < 0) {
      throw new InputFormatError(
        `"step" must be a non-negative integer, got ${JSON.stringify(manifest.step)}`,
        jsonFile,
      );
    }
    const all = await readFloat32File(
      binFile,
      typeof manifest.sha256 === 'string' ? manifest.sha256 : undefined,
    );
    // Validate everything before allocating, so a bad file leaves the current state untouched.
    const sizes = checkFloat32Entries(manifest.slots, all.length, jsonFile, 'optimizer.bin', 2);
    const entries = manifest.slots.map((s, i) => {
      const size = sizes[i];
      if (variables === undefined) return { s, size, name: s.name };
      const v = s.index === undefined ? undefined : variables[s.index];
      if (v === undefined || v.shape.join(',') !== s.shape.join(',')) {
        throw new InputFormatError(
          `state of '${s.name}' [${s.shape}] does not match the model's variable #${s.index} ` +
            (v ? `'${v.name}' [${v.shape}]` : '(none)'),
          jsonFile,
        );
      }
      return { s, size, name: v.name };
    });
    const slots = new Map<string, Slot>();
    for (const { s, size, name } of entries) {
      slots.set(
        name,
        tf.tidy(() => ({
          m: tf.variable(tf.tensor(all.subarray(s.offset, s.offset + size), s.shape), false),
          v: tf.variable(tf.tensor(all.subarray(s.offset + size, s.offset + 2 * size), s.shape), false),
        })),
      );
    }
    this.dispose();
    this.slots = slots;
    this.t = manifest.step;
  }

  /** Free the moment tensors. */
  dispose(): void {
    for (const s of this.slots.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.slots.clear();
  }
}

/**
 * Clip gradients by their global L2 norm, like `torch.nn.utils.clip_grad_norm_`: if the norm of all
 * gradients taken together exceeds `maxNorm`, every gradient is scaled by `maxNorm / (norm + 1e-6)`. The
 * map is updated in place (clipped tensors replace, and dispose, the originals). Returns the norm before
 * clipping, worth logging.
 *
 * @example
 * ```ts
 * const norm = clipGradNorm(grads, 1.0); // grads now has global norm <= 1
 * ```
 */
export function clipGradNorm(grads: Map<tf.Variable, tf.Tensor>, maxNorm: number): number {
  if (!(maxNorm > 0)) throw new ArgumentError('maxNorm', `must be > 0, got ${maxNorm}`);
  if (grads.size === 0) return 0;
  const norm = tf.tidy(() => {
    const squares = [...grads.values()].map((g) => g.square().sum());
    return tf.addN(squares).sqrt();
  });
  const value = norm.dataSync()[0];
  norm.dispose();
  if (!Number.isFinite(value)) {
    throw new ArgumentError('grads', `gradient norm is ${value}; the loss diverged`);
  }
  const coef = maxNorm / (value + 1e-6);
  if (coef < 1) {
    for (const [variable, g] of grads) {
      grads.set(
        variable,
        tf.tidy(() => g.mul(coef)),
      );
      g.dispose();
    }
  }
  return value;
}
