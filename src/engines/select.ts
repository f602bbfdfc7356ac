import { ArgumentError, BackendError } from '../errors.js';
import type { SentenceEncoder } from '../models/sentence-encoder.js';
import type * as OnnxRuntimeEngine from './onnxruntime.js';
import type { OnnxEngine } from './onnxruntime.js';
import { tfjsEngine } from './tfjs.js';
import { ENGINE_CHOICES, isEngineChoice } from './types.js';
import type { EngineChoice, InferenceEngine } from './types.js';

/**
 * The default engine: `$DENSE_RETRIEVAL_ENGINE` (`auto`, `onnx` or `tfjs`), else `auto`.
 *
 * @throws {ArgumentError} for an unknown value of the variable.
 */
export function defaultEngine(): EngineChoice {
  const env = process.env.DENSE_RETRIEVAL_ENGINE;
  if (env === undefined || env === '') return 'auto';
  if (!isEngineChoice(env)) {
    throw new ArgumentError(
      'DENSE_RETRIEVAL_ENGINE',
      `must be one of ${ENGINE_CHOICES.join(', ')}, got '${env}'`,
    );
  }
  return env;
}

/**
 * The inference engines of one {@link SentenceEncoder}: the tfjs engine, and the ONNX Runtime session of
 * its current weights, built on first use and rebuilt when training has changed the weights. The encoder
 * owns one and disposes it with itself.
 *
 * `onnxruntime.ts` (which pulls in the ONNX exporter and, on first use, the native onnxruntime-node) is
 * imported dynamically: importing the library, or encoding with tfjs, never loads it.
 */
export class EngineSlot {
  private onnx: Promise<OnnxEngine> | undefined;
  /** Why `auto` runs on tfjs for this encoder (the model does not export), once known. */
  private unsupported: string | undefined;

  constructor(private readonly encoder: SentenceEncoder) {}

  /**
   * The engine `choice` means for this encoder now. `auto`: ONNX Runtime when onnxruntime-node loads and
   * the model exports, else tfjs (silently: both give the same vectors).
   *
   * @throws {BackendError} `onnx` without onnxruntime-node; {@link ArgumentError} `onnx` for a model
   *   that does not export, or an unknown choice.
   */
  async resolve(choice: EngineChoice = defaultEngine()): Promise<InferenceEngine> {
    if (!isEngineChoice(choice)) {
      throw new ArgumentError(
        'engine',
        `must be one of ${ENGINE_CHOICES.join(', ')}, got '${String(choice)}'`,
      );
    }
    if (choice === 'tfjs') return tfjsEngine(this.encoder);
    if (choice === 'auto' && this.unsupported !== undefined) return tfjsEngine(this.encoder);
    const mod = await import('./onnxruntime.js');
    if (choice === 'auto' && !mod.onnxRuntimeAvailable()) return tfjsEngine(this.encoder);
    try {
      return await this.current(mod);
    } catch (error) {
      if (choice === 'auto' && error instanceof ArgumentError) {
        this.unsupported = error.message;
        return tfjsEngine(this.encoder);
      }
      if (error instanceof ArgumentError || error instanceof BackendError) throw error;
      throw new BackendError(
        `ONNX Runtime could not open the exported model (${error instanceof Error ? error.message : String(error)})`,
      );
    }
  }

  private async current(mod: typeof OnnxRuntimeEngine): Promise<OnnxEngine> {
    if (this.onnx !== undefined) {
      const previous = this.onnx;
      const engine = await previous.catch(() => undefined);
      if (engine?.matches(this.encoder)) return engine;
      // Another call may have replaced it meanwhile; only the one that sees its own promise rebuilds.
      if (this.onnx === previous) {
        this.onnx = undefined;
        void engine?.release();
      } else {
        return this.current(mod);
      }
    }
    const created = mod.OnnxEngine.create(this.encoder);
    this.onnx = created;
    try {
      return await created;
    } catch (error) {
      if (this.onnx === created) this.onnx = undefined;
      throw error;
    }
  }

  /** Release the ONNX Runtime session, if any (the tfjs engine holds nothing). */
  dispose(): void {
    const onnx = this.onnx;
    this.onnx = undefined;
    void onnx?.then(
      (engine) => engine.release(),
      () => undefined,
    );
  }
}
