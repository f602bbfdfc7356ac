import { SentenceEncoder } from './sentence-encoder.js';
import type { LoadModelOptions } from './transformer-loader.js';

export { loadBert, loadTokenizerFor, loadTransformer, SCRATCH_PREFIX } from './transformer-loader.js';
export type { LoadModelOptions } from './transformer-loader.js';

/**
 * Load a text encoder from a local directory, a Hugging Face hub id (downloaded into the cache), or
 * `scratch:<config.json>`; see {@link SentenceEncoder.load}.
 *
 * @example
 * ```ts
 * import { initBackend, loadModel } from 'dense-retrieval';
 *
 * await initBackend();
 * const encoder = await loadModel('sentence-transformers/all-MiniLM-L6-v2');
 * encoder.pooling; // 'mean' (from 1_Pooling/config.json), encoder.normalize === true (2_Normalize)
 * ```
 */
export async function loadModel(source: string, options: LoadModelOptions = {}): Promise<SentenceEncoder> {
  return SentenceEncoder.load(source, options);
}
