/**
 * Worker-thread entry of {@link encodeParallel} (`./parallel-encode.ts`): one tfjs instance per worker.
 * It initialises its own backend, loads the model from a directory once, then encodes the batches the
 * parent sends until it is told to stop. Not part of the public API.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../backend/index.js';
import type { BackendName } from '../backend/index.js';
import { loadModel } from './load.js';
import type { SentenceEncoder } from './sentence-encoder.js';
import type { EngineChoice } from '../engines/types.js';

/** What the parent passes as `workerData`. */
export interface WorkerInit {
  modelDir: string;
  backend: BackendName | 'auto';
  /** Threads of this worker's wasm thread pool. */
  wasmThreads: number;
  maxLength: number;
  batchSize: number;
  /** Where this worker runs inference. */
  engine: EngineChoice;
  /** Intra-op threads of this worker's ONNX Runtime session. */
  onnxThreads: number;
}

/** Parent -> worker: a batch to encode, or the end of the work. */
export type ToWorker = { type: 'encode'; id: number; texts: string[] } | { type: 'stop' };

/** Worker -> parent. */
export type FromWorker =
  | { type: 'ready'; dim: number; backend: string }
  | { type: 'result'; id: number; data: Float32Array }
  | { type: 'error'; message: string; name: string };

const port = parentPort;
if (port === null) throw new Error('parallel-encode-worker must run inside a worker thread');

const init = workerData as WorkerInit;

function fail(error: unknown): void {
  const e = error instanceof Error ? error : new Error(String(error));
  port!.postMessage({ type: 'error', message: e.message, name: e.name } satisfies FromWorker);
}

async function main(): Promise<void> {
  let encoder: SentenceEncoder;
  let backend: string;
  try {
    backend = await initBackend({ backend: init.backend, wasmThreads: init.wasmThreads });
    // A worker's process.env is its own copy: this sizes only this worker's session.
    process.env.DENSE_RETRIEVAL_ONNX_THREADS = String(init.onnxThreads);
    encoder = await loadModel(init.modelDir, { quiet: true });
    encoder.engine = init.engine;
    // Open the session (when the engine is onnx) before taking work, as the model load above.
    await encoder.resolveEngine();
  } catch (error) {
    fail(error);
    return;
  }
  port!.on('message', (msg: ToWorker) => {
    if (msg.type === 'stop') {
      // Closing the port lets the thread exit once the work under way (and the session release) is done.
      encoder.dispose();
      port!.close();
      return;
    }
    // One batch per message: the parent already cut the length-sorted texts into the same batches the
    // single-threaded encode would make, so every vector comes out of an identically padded forward pass.
    encoder
      .encode(msg.texts, {
        batchSize: init.batchSize,
        maxLength: init.maxLength,
        quiet: true,
        // Full width (the `dim` this worker reports), whatever truncate_dim the model was saved with.
        truncateDim: encoder.dim,
        // The parent checks with the texts' real row numbers.
        checkFinite: false,
      })
      .then(
        (m) =>
          port!.postMessage({ type: 'result', id: msg.id, data: m.data } satisfies FromWorker, [
            m.data.buffer as ArrayBuffer,
          ]),
        fail,
      );
  });
  port!.postMessage({ type: 'ready', dim: encoder.dim, backend } satisfies FromWorker);
}

void main();
