import * as tf from '@tensorflow/tfjs';
import type { TrainableEncoder } from '../../src/losses/types.js';

let instances = 0;

/** FNV-1a, to hash words into buckets. */
function hash(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export interface ToyEncoderOptions {
  vocab?: number;
  embed?: number;
  hidden?: number;
  dim?: number;
  seed?: number;
  dropout?: number;
}

/**
 * A small trainable text encoder for tests: hashed bag of words -> table -> tanh MLP -> `dim`. The bag is
 * a count matrix multiplied into the table (no gather, so its gradient needs no extra wasm kernel).
 */
export class ToyEncoder implements TrainableEncoder {
  readonly dim: number;
  readonly vocab: number;
  readonly dropout: number;
  readonly vars: tf.Variable[];
  embedCalls = 0;

  constructor(options: ToyEncoderOptions = {}) {
    const { vocab = 64, embed = 16, hidden = 32, dim = 8, seed = 1, dropout = 0 } = options;
    this.dim = dim;
    this.vocab = vocab;
    this.dropout = dropout;
    const id = instances++;
    this.vars = tf.tidy(() => [
      tf.variable(
        tf.randomNormal([vocab, embed], 0, 0.5, 'float32', seed),
        true,
        `toy${id}/embeddings.weight`,
      ),
      tf.variable(
        tf.randomNormal([embed, hidden], 0, 0.3, 'float32', seed + 1),
        true,
        `toy${id}/dense.weight`,
      ),
      tf.variable(tf.randomNormal([hidden], 0, 0.1, 'float32', seed + 2), true, `toy${id}/dense.bias`),
      tf.variable(tf.randomNormal([hidden, dim], 0, 0.3, 'float32', seed + 3), true, `toy${id}/out.weight`),
    ]);
  }

  private counts(texts: string[]): tf.Tensor2D {
    const data = new Float32Array(texts.length * this.vocab);
    texts.forEach((t, i) => {
      for (const w of t.toLowerCase().split(/\W+/).filter(Boolean))
        data[i * this.vocab + (hash(w) % this.vocab)] += 1;
    });
    return tf.tensor2d(data, [texts.length, this.vocab]);
  }

  embed(texts: string[], options: { training?: boolean; dropoutSeed?: number } = {}): tf.Tensor2D {
    this.embedCalls += 1;
    return tf.tidy(() => {
      const [table, w1, b1, w2] = this.vars;
      let x = tf.matMul(this.counts(texts), table);
      x = tf.tanh(tf.add(tf.matMul(x, w1), b1));
      if (options.training && this.dropout > 0)
        x = tf.dropout(x, this.dropout, undefined, options.dropoutSeed);
      return tf.matMul(x, w2) as tf.Tensor2D;
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.vars;
  }

  dispose(): void {
    for (const v of this.vars) v.dispose();
  }
}
