import type * as tf from '@tensorflow/tfjs';
import type { InferenceEngine, TokenBatch } from './types.js';

/** What the tfjs engine needs of an encoder: its differentiable forward pass on a token batch. */
export interface TfjsEmbedder {
  /** `[batch, dim]` sentence embeddings (inference: no dropout); the caller disposes the result. */
  embedTokens(batch: TokenBatch): tf.Tensor2D;
}

/**
 * The TensorFlow.js engine: the encoder's own forward pass on the current tfjs backend (wasm, cpu or
 * tfjs-node), one tensor per batch, read back and disposed.
 *
 * @example
 * ```ts
 * const vectors = await tfjsEngine(encoder).embed(batch); // Float32Array [batch.batchSize * encoder.dim]
 * ```
 */
export function tfjsEngine(encoder: TfjsEmbedder): InferenceEngine {
  return {
    name: 'tfjs',
    async embed(batch) {
      const vectors = encoder.embedTokens(batch);
      try {
        return (await vectors.data()) as Float32Array;
      } finally {
        vectors.dispose();
      }
    },
  };
}
