/**
 * How much wasm heap a plain (uncached) training step of a BERT bi-encoder needs, and a guard that refuses a
 * step that cannot fit. The wasm backend's heap cannot grow past 4 GiB; a step that needs more aborts inside
 * the wasm module (`Aborted()`, `memory access out of bounds`) and leaves the backend unusable, so it is
 * better refused up front with the batch size that would fit.
 *
 * The estimate is a linear model in the number of tokens, with per-token coefficients derived from what the
 * fused encoder layer (src/models/bert.ts `fusedLayer`) keeps for the backward pass and fitted to measured
 * peaks (docs/training.md, "Memory on the wasm backend"):
 *
 * ```
 * bytes     = max(backward, update)
 * backward  = 2 * 4 * params + 2 * 4 * vocab * hidden     weights, gradients, the embedding gradient's scatter
 *           + sum over forward calls of tokens * (layers * kept(seq) + 4 * 21 * hidden)
 *           + max over forward calls of tokens * transient(seq)
 * update    = 4 * 4 * params + 10 * 4 * vocab * hidden     weights, gradients, 2 AdamW moments, and the update
 *                                                          temporaries of the word-embedding table
 * kept(seq)      = 4 * (10.5 hidden + 2 intermediate + 1.25 heads * seq)   saved by each layer (+ its input gradient)
 * transient(seq) = 4 * (24 hidden + 6 intermediate + 8 heads * seq)        one layer's backward temporaries
 * ```
 *
 * times a safety margin ({@link MEMORY_MARGIN}) for allocator fragmentation.
 */
import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../errors.js';
import type { TrainingMemoryProfile } from '../models/architectures/encoder.js';
import { BERT_TRAINING_MEMORY } from '../models/architectures/bert.js';
import { architectureFor, SUPPORTED_MODEL_TYPES } from '../models/architectures/registry.js';

/** The wasm backend's heap cap (tfjs-backend-wasm is built with a 4 GiB maximum memory). */
export const WASM_HEAP_LIMIT_BYTES = 4 * 1024 ** 3;

/**
 * The architecture's per-token coefficients (BERT's fused layer: `BERT_TRAINING_MEMORY` in
 * src/models/architectures/bert.ts; ModernBERT's composed layers keep far more) and its parameter count,
 * from the config's `model_type` (a config without one is sized as BERT).
 */
function profileOf(config: MemoryModelConfig): { profile: TrainingMemoryProfile; parameters: number } {
  const type = config.model_type;
  if (type === undefined || type === 'bert' || !SUPPORTED_MODEL_TYPES.includes(type)) {
    return { profile: BERT_TRAINING_MEMORY, parameters: bertParameterCount(config) };
  }
  const arch = architectureFor(type);
  return {
    profile: arch.trainingMemory,
    parameters: arch.parameterCount(config as Parameters<typeof arch.parameterCount>[0]),
  };
}

/** Multiplies the estimate: the heap must also hold free blocks between live tensors (fragmentation). */
export const MEMORY_MARGIN = 1.3;

/** The fields of an encoder config the estimate reads (Hugging Face names). */
export interface MemoryModelConfig {
  /** The architecture (its memory profile and parameter count); absent: BERT. */
  model_type?: string;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  /** Absent for architectures without token types (DistilBERT, MPNet, ModernBERT). */
  type_vocab_size?: number;
}

/** One forward call of a training step: `sequences` texts padded to `seqLen` tokens. */
export interface ForwardShape {
  sequences: number;
  seqLen: number;
}

/**
 * Number of parameters of a BERT encoder with `config` (without the pooler, which training does not use);
 * other architectures are counted by their registry entry (`Architecture.parameterCount`).
 */
export function bertParameterCount(c: MemoryModelConfig): number {
  const h = c.hidden_size;
  const i = c.intermediate_size;
  const embeddings = (c.vocab_size + c.max_position_embeddings + (c.type_vocab_size ?? 0) + 2) * h;
  const layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
  return embeddings + c.num_hidden_layers * layer;
}

/**
 * Bytes of the parts of a step that do not grow with the batch, the larger of two phases: the backward pass
 * (weights + gradients + the embedding gradient's scatter temporaries) and the AdamW update (weights +
 * gradients + two moments + the update temporaries of the largest variable, the word embeddings).
 */
export function fixedTrainingBytes(config: MemoryModelConfig): { backward: number; update: number } {
  const params = 4 * profileOf(config).parameters;
  const embedding = 4 * config.vocab_size * config.hidden_size;
  return { backward: 2 * params + 2 * embedding, update: 4 * params + 10 * embedding };
}

/**
 * Estimated peak wasm-heap bytes of one plain training step (forward and backward of every call under one
 * gradient tape, then an AdamW update), before the safety margin.
 *
 * @example
 * ```ts
 * // MiniLM-L6 shape, 32 queries and 32 positives of 128 tokens:
 * estimateTrainingBytes(config, [{ sequences: 32, seqLen: 128 }, { sequences: 32, seqLen: 128 }]);
 * ```
 */
export function estimateTrainingBytes(config: MemoryModelConfig, calls: readonly ForwardShape[]): number {
  const h = config.hidden_size;
  const i = config.intermediate_size;
  const heads = config.num_attention_heads;
  const { kept: K, transient: T } = profileOf(config).profile;
  let kept = 0;
  let transient = 0;
  for (const { sequences, seqLen } of calls) {
    const tokens = sequences * seqLen;
    const perLayer = K.hidden * h + K.intermediate * i + K.scores * heads * seqLen;
    kept += tokens * 4 * (config.num_hidden_layers * perLayer + K.outside * h);
    const layerBackward = T.hidden * h + T.intermediate * i + T.scores * heads * seqLen;
    transient = Math.max(transient, tokens * 4 * layerBackward);
  }
  const fixed = fixedTrainingBytes(config);
  return Math.max(fixed.backward + kept + transient, fixed.update);
}

/** Whether the current tfjs backend is wasm (the only one with a hard heap cap). */
export function onWasmBackend(): boolean {
  return tf.getBackend() === 'wasm';
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/**
 * Throw an {@link ArgumentError} naming `batchSize` when a plain training step of `queries` queries and
 * `passages` passages (`queryLen` / `passageLen` tokens after padding) would need more than `limitBytes`
 * of heap (with {@link MEMORY_MARGIN}). The message suggests a `CachedInBatchNegativesLoss` mini-batch
 * that fits. Call it only on the wasm backend: other backends have no such cap.
 *
 * @example
 * ```ts
 * if (onWasmBackend()) checkTrainingMemory(bert.config, { queries: 64, passages: 64, queryLen: 128, passageLen: 128 });
 * ```
 */
export function checkTrainingMemory(
  config: MemoryModelConfig,
  shape: { queries: number; passages: number; queryLen: number; passageLen: number },
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): void {
  const calls = [
    { sequences: shape.queries, seqLen: shape.queryLen },
    { sequences: shape.passages, seqLen: shape.passageLen },
  ];
  const need = MEMORY_MARGIN * estimateTrainingBytes(config, calls);
  if (need <= limitBytes) return;
  const seqLen = Math.max(shape.queryLen, shape.passageLen);
  // Gradient caching embeds one mini-batch of texts at a time under the tape: find the largest that fits.
  const fits = (n: number): boolean =>
    MEMORY_MARGIN * estimateTrainingBytes(config, [{ sequences: n, seqLen }]) <= limitBytes;
  let miniBatch = 0;
  for (let n = 1; n <= Math.max(shape.queries, shape.passages) && fits(n); n *= 2) miniBatch = n;
  const advice =
    miniBatch === 0
      ? `even one sequence of ${seqLen} tokens does not fit: use a shorter maxSeqLength or a smaller model`
      : `use gradient caching, CachedInBatchNegativesLoss({ miniBatchSize: ${miniBatch} }) ` +
        `(CLI: --cache-mini-batch ${miniBatch}), which gives the same gradients in bounded memory, ` +
        `or a smaller batch or maxSeqLength`;
  throw new ArgumentError(
    'batchSize',
    `a plain InBatchNegativesLoss step of batch size ${shape.queries} (${shape.passages} passages) at sequence ` +
      `length ${seqLen} needs about ${gib(need)} of wasm heap, more than the backend's ${gib(limitBytes)} ` +
      `limit (it would abort inside the wasm module); ${advice}`,
  );
}

/** What the guard needs from an encoder: `SentenceEncoder` has it (its model, a tokenizer, a length cap). */
interface ProfiledEncoder {
  bert: { config: MemoryModelConfig };
  tokenizer: { tokenLength(text: string, options?: { maxLength?: number }): number };
  maxSeqLength: number;
}

function isProfiled(encoder: unknown): encoder is ProfiledEncoder {
  const e = encoder as Partial<ProfiledEncoder> | null;
  return (
    typeof e === 'object' &&
    e !== null &&
    typeof e.maxSeqLength === 'number' &&
    typeof e.bert?.config?.hidden_size === 'number' &&
    typeof e.tokenizer?.tokenLength === 'function'
  );
}

/** The padded length of `texts` in `encoder` (the longest text's tokens, capped at `maxSeqLength`). */
function paddedLength(encoder: ProfiledEncoder, texts: readonly string[]): number {
  let longest = 0;
  for (const t of texts) {
    longest = Math.max(longest, encoder.tokenizer.tokenLength(t, { maxLength: encoder.maxSeqLength }));
    if (longest >= encoder.maxSeqLength) break;
  }
  return longest;
}

/**
 * What both guards size a step by, or undefined when there is nothing to guard (not wasm, or an encoder
 * without a BERT config and tokenizer). Untied towers hold two models: the step is sized by the larger, and
 * the smaller's fixed bytes are set aside from the limit.
 */
function sizeTowers(
  queryEncoder: unknown,
  passageEncoder: unknown,
  limitBytes: number,
): { config: MemoryModelConfig; limit: number; encoders: [ProfiledEncoder, ProfiledEncoder] } | undefined {
  if (!onWasmBackend() || !isProfiled(queryEncoder) || !isProfiled(passageEncoder)) return undefined;
  const q = queryEncoder.bert.config;
  const p = passageEncoder.bert.config;
  const tied = queryEncoder.bert === passageEncoder.bert;
  const [config, other] = profileOf(q).parameters >= profileOf(p).parameters ? [q, p] : [p, q];
  const limit = limitBytes - (tied ? 0 : MEMORY_MARGIN * fixedTrainingBytes(other).update);
  return { config, limit, encoders: [queryEncoder, passageEncoder] };
}

/**
 * The guard a plain loss runs before its forward pass: on the wasm backend, when both towers are BERT
 * sentence encoders, refuse (with {@link checkTrainingMemory}'s {@link ArgumentError}) a step that cannot
 * fit the heap. Does nothing on other backends or for encoders it cannot size (toy encoders of tests).
 *
 * @example
 * ```ts
 * guardTrainingStep(model.queryEncoder, model.passageEncoder, batch.queries, batchPassages(batch));
 * ```
 */
export function guardTrainingStep(
  queryEncoder: unknown,
  passageEncoder: unknown,
  queries: readonly string[],
  passages: readonly string[],
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): void {
  const sized = sizeTowers(queryEncoder, passageEncoder, limitBytes);
  if (sized === undefined) return;
  checkTrainingMemory(
    sized.config,
    {
      queries: queries.length,
      passages: passages.length,
      queryLen: paddedLength(sized.encoders[0], queries),
      passageLen: paddedLength(sized.encoders[1], passages),
    },
    sized.limit,
  );
}

/**
 * The guard of a gradient-cached loss: one mini-batch of texts is embedded under the tape at a time, so on
 * the wasm backend refuse (with an {@link ArgumentError} naming `miniBatchSize` and a size that fits) a
 * mini-batch whose taped pass cannot fit the heap. Does nothing on other backends or for encoders it cannot
 * size.
 *
 * @example
 * ```ts
 * guardCachedStep(model.queryEncoder, model.passageEncoder, [queryChunks, passageChunks], 16);
 * ```
 */
export function guardCachedStep(
  queryEncoder: unknown,
  passageEncoder: unknown,
  chunksPerTower: readonly [readonly (readonly string[])[], readonly (readonly string[])[]],
  miniBatchSize: number,
  limitBytes: number = WASM_HEAP_LIMIT_BYTES,
): void {
  const sized = sizeTowers(queryEncoder, passageEncoder, limitBytes);
  if (sized === undefined) return;
  const { config, limit, encoders } = sized;
  let seqLen = 0;
  chunksPerTower.forEach((chunks, tower) => {
    for (const texts of chunks) seqLen = Math.max(seqLen, paddedLength(encoders[tower], texts));
  });
  const fits = (n: number): boolean =>
    MEMORY_MARGIN * estimateTrainingBytes(config, [{ sequences: n, seqLen }]) <= limit;
  if (fits(miniBatchSize)) return;
  let smaller = 0;
  for (let n = 1; n < miniBatchSize && fits(n); n *= 2) smaller = n;
  const need = MEMORY_MARGIN * estimateTrainingBytes(config, [{ sequences: miniBatchSize, seqLen }]);
  const advice =
    smaller === 0
      ? `even one sequence of ${seqLen} tokens does not fit: use a shorter maxSeqLength or a smaller model`
      : `use miniBatchSize ${smaller} (CLI: --cache-mini-batch ${smaller}) or a shorter maxSeqLength`;
  throw new ArgumentError(
    'miniBatchSize',
    `a gradient-cached step embeds ${miniBatchSize} texts of up to ${seqLen} tokens under the tape at a time, ` +
      `which needs about ${gib(need)} of wasm heap, more than the backend's ${gib(limit)} limit (it would ` +
      `abort inside the wasm module); ${advice}`,
  );
}
