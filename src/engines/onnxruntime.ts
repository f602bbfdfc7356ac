import { createRequire } from 'node:module';
import os from 'node:os';
import type * as Ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError, BackendError } from '../errors.js';
import { buildOnnxModel } from '../export/onnx-model.js';
import type { SentenceEncoder } from '../models/sentence-encoder.js';
import type { InferenceEngine, TokenBatch } from './types.js';

/** The npm package the ONNX Runtime engine runs on (an optional peer dependency). */
export const ONNXRUNTIME_PACKAGE = 'onnxruntime-node';

type OrtModule = typeof Ort;

let loaded: { ort: OrtModule } | { error: string } | undefined;

/**
 * `onnxruntime-node`, required on first use only: it is a native addon of ~40 MB that a user who never asks
 * for the ONNX engine should not load (nor need installed).
 *
 * @throws {BackendError} naming the package and how to install it, when it is missing or cannot load.
 */
export function loadOnnxRuntime(): OrtModule {
  loaded ??= tryLoad();
  if ('ort' in loaded) return loaded.ort;
  throw new BackendError(
    `the ONNX Runtime engine needs the optional package ${ONNXRUNTIME_PACKAGE}, which cannot be loaded ` +
      `here (${loaded.error}). Install it with \`ONNXRUNTIME_NODE_INSTALL=skip npm install ${ONNXRUNTIME_PACKAGE}\` ` +
      '(the CPU binary ships in the package; the variable skips its CUDA download), or use --engine tfjs',
  );
}

function tryLoad(): { ort: OrtModule } | { error: string } {
  try {
    // createRequire, not import(): onnxruntime-node is CommonJS, and loading it synchronously lets `auto`
    // decide without an extra await.
    const mod = createRequire(import.meta.url)(ONNXRUNTIME_PACKAGE) as OrtModule & { default?: OrtModule };
    return { ort: mod.InferenceSession === undefined && mod.default !== undefined ? mod.default : mod };
  } catch (error) {
    return { error: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  }
}

/**
 * Whether `onnxruntime-node` loads in this process (loading it on the first call).
 *
 * @example
 * ```ts
 * const engine = onnxRuntimeAvailable() ? 'onnx' : 'tfjs';
 * ```
 */
export function onnxRuntimeAvailable(): boolean {
  loaded ??= tryLoad();
  return 'ort' in loaded;
}

/**
 * Intra-op threads of an ONNX Runtime session: `$DENSE_RETRIEVAL_ONNX_THREADS`, else one per core (at most
 * 8), which is also ONNX Runtime's own default. On the 2-core development machine, under a load average of
 * 12-20 (docs/performance.md, "ONNX Runtime engine"), 1 and 2 threads could not be told apart (2.0-4.3
 * texts/s either way over repeated runs), while 2 workers of 1 thread were slower by their start-up (each
 * loads and exports the model): one session per process it is. Re-measure on an idle machine with
 * `npm run bench -- --cases onnx`.
 *
 * @throws {ArgumentError} for a malformed `$DENSE_RETRIEVAL_ONNX_THREADS`.
 */
export function defaultOnnxThreads(): number {
  const env = process.env.DENSE_RETRIEVAL_ONNX_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new ArgumentError('DENSE_RETRIEVAL_ONNX_THREADS', `must be a positive integer, got '${env}'`);
    }
    return n;
  }
  return Math.min(8, Math.max(1, os.availableParallelism()));
}

/** The identity of an encoder's current weights: tfjs `Variable.assign` gives a variable a new data id. */
export function weightsFingerprint(encoder: SentenceEncoder): object[] {
  return encoder.trainableVariables().map((v) => v.dataId);
}

function int64(values: Int32Array): BigInt64Array {
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = BigInt(values[i]);
  return out;
}

/**
 * Bytes the largest activation of one onnxruntime run may take. A larger batch is split into runs of fewer
 * rows, each cut to its own longest row, so that a run's activations stay in cache. The largest activation of
 * a row is float32 `seq x max(intermediate_size, heads x seq, hidden)` (the FFN's inner layer or the attention
 * scores). Measured on the idle 2-core machine (MiniLM-L6 shape, 256 SciFact abstracts sorted by length,
 * batches of 32 at up to 256 tokens, two intra-op threads, rounds interleaved): 28.6 texts/s at 2 rows per run
 * (512 tokens, 6 MiB of attention scores), 28.1 at 1, 26.2 at 3, 25.2 at 4, 25.5 at 8 and 22.5 at 32 (the
 * whole batch in one run). A small model or short texts stay in one run (the demo's 64-wide model at 64
 * tokens: 192 rows).
 */
export const ONNX_RUN_BYTES = 6 * 2 ** 20;

/** What {@link onnxRowsPerRun} reads of a model's `config.json`. */
export interface RunShape {
  hidden_size: number;
  intermediate_size: number;
  num_attention_heads: number;
}

/**
 * Rows of `seqLen` tokens per onnxruntime run whose largest activation fits `maxRunBytes` (at least 1).
 *
 * @example
 * ```ts
 * onnxRowsPerRun({ hidden_size: 384, intermediate_size: 1536, num_attention_heads: 12 }, 256); // 2
 * ```
 */
export function onnxRowsPerRun(config: RunShape, seqLen: number, maxRunBytes = ONNX_RUN_BYTES): number {
  const seq = Math.max(1, seqLen);
  const widest = Math.max(config.intermediate_size, config.num_attention_heads * seq, config.hidden_size);
  return Math.max(1, Math.floor(maxRunBytes / (4 * seq * widest)));
}

/** Options of {@link OnnxEngine.create}. */
export interface OnnxEngineOptions {
  /** Intra-op threads of the session; default {@link defaultOnnxThreads}. */
  threads?: number;
  /** Bytes of the largest activation of one run (see {@link ONNX_RUN_BYTES}, the default). */
  maxRunBytes?: number;
}

/** Rows `from` to `to` of `batch`, cut to the longest of them (padding is at the end of each row). */
function rowsOf(batch: TokenBatch, from: number, to: number): TokenBatch {
  const { seqLen } = batch;
  let longest = 1;
  for (let r = from; r < to; r++) {
    for (let c = seqLen - 1; c >= longest; c--) {
      if (batch.attentionMask[r * seqLen + c] !== 0) {
        longest = c + 1;
        break;
      }
    }
  }
  const rows = to - from;
  const cut = (a: Int32Array): Int32Array => {
    const out = new Int32Array(rows * longest);
    for (let r = 0; r < rows; r++) {
      out.set(a.subarray((from + r) * seqLen, (from + r) * seqLen + longest), r * longest);
    }
    return out;
  };
  const attentionMask = cut(batch.attentionMask);
  return {
    inputIds: cut(batch.inputIds),
    attentionMask,
    tokenTypeIds: cut(batch.tokenTypeIds),
    poolMask: batch.poolMask === batch.attentionMask ? attentionMask : cut(batch.poolMask),
    batchSize: rows,
    seqLen: longest,
  };
}

/**
 * The ONNX Runtime engine of one encoder at one weight version: the graph `buildOnnxModel` writes from the
 * encoder's current weights (in memory, never on disk), in a session with every graph optimization on.
 * {@link OnnxEngine.matches} says whether the weights are still those it was built from (training assigns
 * new tensors to the variables, so a trained encoder needs a new engine).
 */
export class OnnxEngine implements InferenceEngine {
  readonly name = 'onnx' as const;

  private constructor(
    private readonly encoder: SentenceEncoder,
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    private readonly fingerprint: object[],
    private readonly maxRunBytes: number,
  ) {}

  /**
   * Export `encoder` in memory and open an ONNX Runtime session on it.
   *
   * @throws {BackendError} when onnxruntime-node is missing; {@link ArgumentError} when the model does not
   *   export (an architecture or Dense activation without an exporter, a model over 2 GiB).
   */
  static async create(encoder: SentenceEncoder, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
    const maxRunBytes = options.maxRunBytes ?? ONNX_RUN_BYTES;
    if (!Number.isInteger(maxRunBytes) || maxRunBytes < 1) {
      throw new ArgumentError('maxRunBytes', `must be a positive integer, got ${String(maxRunBytes)}`);
    }
    const ort = loadOnnxRuntime();
    const fingerprint = weightsFingerprint(encoder);
    const bytes = buildOnnxModel(encoder);
    const session = await ort.InferenceSession.create(bytes, {
      graphOptimizationLevel: 'all',
      intraOpNumThreads: options.threads ?? defaultOnnxThreads(),
      // One graph runs at a time per session: inter-op parallelism would only compete with intra-op threads.
      interOpNumThreads: 1,
      executionMode: 'sequential',
      executionProviders: ['cpu'],
    });
    return new OnnxEngine(encoder, ort, session, fingerprint, maxRunBytes);
  }

  /** Whether `encoder`'s weights are still those this session was built from. */
  matches(encoder: SentenceEncoder): boolean {
    if (encoder !== this.encoder) return false;
    const now = weightsFingerprint(encoder);
    return now.length === this.fingerprint.length && now.every((id, i) => id === this.fingerprint[i]);
  }

  async embed(batch: TokenBatch): Promise<Float32Array> {
    const rowsPerRun = onnxRowsPerRun(this.encoder.model.config, batch.seqLen, this.maxRunBytes);
    if (batch.batchSize <= rowsPerRun) return this.run(batch);
    const dim = this.encoder.dim;
    const out = new Float32Array(batch.batchSize * dim);
    for (let from = 0; from < batch.batchSize; from += rowsPerRun) {
      const to = Math.min(batch.batchSize, from + rowsPerRun);
      out.set(await this.run(rowsOf(batch, from, to)), from * dim);
    }
    return out;
  }

  private async run(batch: TokenBatch): Promise<Float32Array> {
    const shape = [batch.batchSize, batch.seqLen];
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new this.ort.Tensor('int64', int64(batch.inputIds), shape),
      attention_mask: new this.ort.Tensor('int64', int64(batch.attentionMask), shape),
    };
    if (this.session.inputNames.includes('token_type_ids')) {
      feeds.token_type_ids = new this.ort.Tensor('int64', int64(batch.tokenTypeIds), shape);
    }
    const samePool = batch.poolMask === batch.attentionMask;
    // The graph pools over the attention mask; an include_prompt: false model leaves its prompt tokens out
    // of pooling, so that case pools the hidden states with the encoder's own (tfjs) head.
    const output = samePool ? 'sentence_embedding' : 'last_hidden_state';
    const result = await this.session.run(feeds, [output]);
    const values = result[output].data as Float32Array;
    if (samePool) return values;
    return tf.tidy(() => {
      const hidden = tf.tensor3d(values, [batch.batchSize, batch.seqLen, this.encoder.model.hiddenSize]);
      const mask = tf.tensor2d(batch.poolMask, [batch.batchSize, batch.seqLen], 'int32');
      return this.encoder.headFromHidden(hidden, mask).dataSync() as Float32Array;
    });
  }

  /** Free the session (its native memory). */
  release(): Promise<void> {
    return this.session.release();
  }
}
