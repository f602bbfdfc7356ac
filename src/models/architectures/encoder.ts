import type * as tf from '@tensorflow/tfjs';

/**
 * The one interface every transformer architecture implements (BERT, RoBERTa / XLM-RoBERTa, DistilBERT,
 * MPNet): what {@link SentenceEncoder}, the trainer and the memory guard need from a token encoder.
 */

/**
 * The sizes every architecture reports under BERT's `config.json` names (DistilBERT's `dim`, `n_layers` ...
 * are mapped onto them), so that shared code (memory guard, sequence limits) reads one shape of config.
 */
export interface EncoderConfig {
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  pad_token_id: number;
  [extra: string]: unknown;
}

/** Inputs of {@link TransformerEncoder.forward}, each `[batch, seq]` int32. */
export interface EncoderInputs {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  /** Segment ids; ignored by architectures without token types (DistilBERT, MPNet). */
  tokenTypeIds?: tf.Tensor2D;
}

export interface EncoderForwardOptions {
  /** Apply dropout (default false). */
  training?: boolean;
  /** Seed of the dropout masks: the same seed and inputs give the same masks (gradient caching needs it). */
  dropoutSeed?: number;
}

/** A tensor in Hugging Face layout, ready to be written to safetensors. */
export interface HfTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * A trainable token encoder: ids in, last hidden state `[batch, seq, hidden]` out.
 *
 * @example
 * ```ts
 * const model: TransformerEncoder = createEncoder(parseEncoderConfig(json, 'config.json'), 1);
 * const hidden = model.forward({ inputIds, attentionMask }); // [batch, seq, model.hiddenSize]
 * ```
 */
export interface TransformerEncoder {
  readonly config: EncoderConfig;
  /** Width of the token vectors. */
  readonly hiddenSize: number;
  /**
   * The longest input (special tokens included) the position table can hold: `max_position_embeddings`,
   * less `pad_token_id + 1` for RoBERTa-style position ids.
   */
  readonly maxSequenceLength: number;
  /** Last hidden state `[batch, seq, hidden]`; differentiable (call inside `tf.variableGrads` to train). */
  forward(inputs: EncoderInputs, options?: EncoderForwardOptions): tf.Tensor3D;
  /** Trainable parameters by canonical name. */
  variables(): Map<string, tf.Variable>;
  /** Every tensor of the checkpoint in Hugging Face layout and names (without a model prefix). */
  hfTensors(): Map<string, HfTensor>;
  /** The `config.json` to save beside {@link hfTensors} (Hugging Face field names, `architectures` set). */
  hfConfig(): Record<string, unknown>;
  /** Free the parameters. */
  dispose(): void;
}

/**
 * What a plain training step of an architecture keeps on the wasm heap, for the memory guard
 * (`src/train/memory.ts`): float32 values per token, by what they scale with (`hidden`: hidden_size,
 * `intermediate`: intermediate_size, `scores`: heads x padded sequence length), per encoder layer (`kept`,
 * until the backward pass ends; `outside`: outside the layers, times hidden_size) and alive at once inside
 * one layer's backward (`transient`). Derived from what the layer saves and fitted to measured peaks
 * (`benchmarks/train-memory.ts --arch <model_type>`, docs/training.md).
 */
export interface TrainingMemoryProfile {
  kept: { hidden: number; intermediate: number; scores: number; outside: number };
  transient: { hidden: number; intermediate: number; scores: number };
}
