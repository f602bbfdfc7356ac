import { BackendError } from '../errors.js';

/** Whether `error` is the wasm module dying (`WebAssembly.RuntimeError`: `Aborted()`, out-of-bounds access). */
function isWasmAbort(error: unknown): error is Error {
  // Typed by hand: this project compiles without the DOM/WebAssembly lib types.
  const RuntimeError = (globalThis as { WebAssembly?: { RuntimeError?: new () => Error } }).WebAssembly
    ?.RuntimeError;
  if (RuntimeError !== undefined && error instanceof RuntimeError) return true;
  // Emscripten's abort() throws a RuntimeError; some builds throw a plain Error with its message.
  return (
    error instanceof Error &&
    /^Aborted\(|memory access out of bounds|Cannot enlarge memory/.test(error.message)
  );
}

/**
 * A wasm abort during a training step, rethrown as a {@link BackendError} that says what almost always
 * causes it (the step outgrew the 4 GiB wasm heap) and what to do; any other error is returned unchanged.
 */
export function explainWasmAbort(error: unknown, step: number, batchSize: number): unknown {
  if (!isWasmAbort(error)) return error;
  const wrapped = new BackendError(
    `training step ${step} (batch size ${batchSize}) aborted inside the tfjs wasm module (${error.message}); ` +
      `the usual cause is the step needing more than the wasm backend's 4 GiB heap. Use gradient caching, e.g. ` +
      `CachedInBatchNegativesLoss({ miniBatchSize: 8 }) (CLI: --cache-mini-batch 8), or a smaller batch size ` +
      `or maxSeqLength. The wasm backend cannot be used again in this process; restart it.`,
  );
  (wrapped as Error & { cause?: unknown }).cause = error;
  return wrapped;
}
