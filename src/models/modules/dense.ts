import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readJson } from '../../checkpoint/load.js';
import { readSafetensors, writeSafetensors } from '../../checkpoint/safetensors.js';
import { InputFormatError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';

/**
 * sentence-transformers' `Dense` module: `activation(x W^T + b)` on the pooled sentence vector, read from and
 * written to its folder (`config.json` with `in_features`, `out_features`, `bias`, `activation_function`;
 * `model.safetensors` with `linear.weight` `[out, in]` and `linear.bias`). Trainable.
 */

/** `activation_function` values we run, and the op of each. */
const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  'torch.nn.modules.activation.Tanh': (x) => tf.tanh(x),
  'torch.nn.modules.linear.Identity': (x) => x,
  'torch.nn.modules.activation.ReLU': (x) => tf.relu(x),
  'torch.nn.modules.activation.Sigmoid': (x) => tf.sigmoid(x),
};

let denseCounter = 0;

/**
 * One Dense module.
 *
 * @example
 * ```ts
 * const dense = await DenseModule.load('model/2_Dense');
 * const out = dense.apply(pooled); // [batch, in_features] -> [batch, out_features]
 * ```
 */
export class DenseModule {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly activation: string;
  /** `[in, out]` (the transpose of `linear.weight`), so the product is an untransposed matMul. */
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable | undefined;

  private constructor(
    config: { in: number; out: number; activation: string },
    weight: tf.Tensor2D,
    bias?: tf.Tensor1D,
  ) {
    const id = denseCounter++;
    this.inFeatures = config.in;
    this.outFeatures = config.out;
    this.activation = config.activation;
    this.kernel = tf.variable(
      tf.tidy(() => tf.transpose(weight)),
      true,
      `dense${id}/linear.weight`,
    );
    this.bias = bias === undefined ? undefined : tf.variable(bias.clone(), true, `dense${id}/linear.bias`);
  }

  /**
   * Read a Dense folder. An unknown activation, missing or mis-shaped weights are errors naming the file.
   */
  static async load(dir: string): Promise<DenseModule> {
    const configFile = path.join(dir, 'config.json');
    const raw = (await readJson(configFile, 'Dense config.json')) as Record<string, unknown>;
    const intField = (key: string): number => {
      const v = raw?.[key];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
        throw new InputFormatError(
          `"${key}" must be a positive integer, got ${JSON.stringify(v)}`,
          configFile,
        );
      }
      return v;
    };
    const inF = intField('in_features');
    const outF = intField('out_features');
    const activation = String(raw.activation_function ?? 'torch.nn.modules.activation.Tanh');
    if (!(activation in ACTIVATIONS)) {
      throw new InputFormatError(
        `unsupported activation_function ${JSON.stringify(activation)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`,
        configFile,
      );
    }
    const weightsFile = path.join(dir, 'model.safetensors');
    const tensors = await readSafetensors(weightsFile);
    const w = tensors.get('linear.weight');
    if (w === undefined || w.shape.length !== 2 || w.shape[0] !== outF || w.shape[1] !== inF) {
      throw new InputFormatError(
        `linear.weight must be [${outF}, ${inF}] (out_features, in_features), got ${w === undefined ? 'none' : `[${w.shape.join(', ')}]`}`,
        weightsFile,
      );
    }
    const hasBias = raw.bias !== false;
    const b = tensors.get('linear.bias');
    if (hasBias && (b === undefined || b.shape.length !== 1 || b.shape[0] !== outF)) {
      throw new InputFormatError(`linear.bias must be [${outF}] (config.json says bias: true)`, weightsFile);
    }
    const weight = tf.tensor2d(w.data, [outF, inF], 'float32');
    const bias = hasBias ? tf.tensor1d(b!.data, 'float32') : undefined;
    try {
      return new DenseModule({ in: inF, out: outF, activation }, weight, bias);
    } finally {
      tf.dispose([weight, ...(bias ? [bias] : [])]);
    }
  }

  /** `activation(x W^T + b)`: `[batch, in_features]` -> `[batch, out_features]`, differentiable. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const y = tf.matMul(x, this.kernel);
      return ACTIVATIONS[this.activation](this.bias === undefined ? y : tf.add(y, this.bias)) as tf.Tensor2D;
    });
  }

  /** Trainable parameters. */
  variables(): tf.Variable[] {
    return this.bias === undefined ? [this.kernel] : [this.kernel, this.bias];
  }

  /** Write `config.json` and `model.safetensors` into `dir` (the module's folder). */
  async save(dir: string): Promise<void> {
    const config = {
      in_features: this.inFeatures,
      out_features: this.outFeatures,
      bias: this.bias !== undefined,
      activation_function: this.activation,
    };
    await writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    const weight = tf.transpose(this.kernel);
    const tensors = new Map([
      ['linear.weight', { shape: weight.shape.slice(), data: weight.dataSync() as Float32Array }],
    ]);
    weight.dispose();
    if (this.bias !== undefined) {
      tensors.set('linear.bias', {
        shape: this.bias.shape.slice(),
        data: this.bias.dataSync() as Float32Array,
      });
    }
    await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  }

  dispose(): void {
    this.kernel.dispose();
    this.bias?.dispose();
  }
}
