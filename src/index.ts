/**
 * dense-retrieval: train, evaluate and serve dense retrievers (bi-encoders) on TensorFlow.js.
 *
 * Every building block is exported from here; see the README for a quickstart.
 * @packageDocumentation
 */

export * from './errors.js';
export { initBackend, currentBackend, wasmBinaryDir, BACKEND_ORDER } from './backend/index.js';
export type { BackendName, InitBackendOptions } from './backend/index.js';
export { createProgress } from './util/progress.js';
export type { Progress, ProgressOptions } from './util/progress.js';
export { writeFileAtomic, writeDirAtomic } from './util/atomic.js';
export type { Qrels, Run, Matrix, CorpusDoc, QueryRecord } from './types.js';
