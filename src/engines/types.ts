import type { EncodedBatch } from '../tokenize/tokenizer.js';

/**
 * Where inference runs. `tfjs`: the encoder's own TensorFlow.js forward pass on the current backend (the
 * path training always takes). `onnx`: ONNX Runtime (`onnxruntime-node`, an optional peer dependency) on an
 * ONNX graph built in memory from the encoder's current weights.
 */
export type EngineName = 'tfjs' | 'onnx';

/** An {@link EngineName}, or `auto`: ONNX Runtime when it is installed and the model exports, else tfjs. */
export type EngineChoice = EngineName | 'auto';

/** Every {@link EngineChoice}, as `--engine` takes them. */
export const ENGINE_CHOICES: readonly EngineChoice[] = ['auto', 'onnx', 'tfjs'];

/**
 * One tokenized batch as an engine runs it: the tokenizer's `[batchSize, seqLen]` row-major ids, attention
 * mask and token types, plus the mask pooling averages over (the attention mask, except for an
 * `include_prompt: false` model's prompt tokens, which it leaves out).
 */
export interface TokenBatch extends EncodedBatch {
  poolMask: Int32Array;
}

/**
 * Runs a sentence encoder's inference (transformer, pooling, Dense modules, Normalize) on token batches.
 * Every engine gives the same vectors within 1e-4 (max abs; `test/engines/`).
 */
export interface InferenceEngine {
  readonly name: EngineName;
  /** Sentence embeddings of `batch`, row-major `[batch.batchSize, dim]`. */
  embed(batch: TokenBatch): Promise<Float32Array>;
}

/**
 * Whether `value` names an engine choice (`auto`, `onnx` or `tfjs`): `encode`'s `engine`, `--engine`.
 *
 * @example
 * ```ts
 * isEngineChoice('onnx'); // true
 * ```
 */
export function isEngineChoice(value: unknown): value is EngineChoice {
  return typeof value === 'string' && (ENGINE_CHOICES as readonly string[]).includes(value);
}
