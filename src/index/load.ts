import { InputFormatError } from '../errors.js';
import { readContainerHeader } from './container.js';
import type { IndexKind } from './container.js';
import { ExactIndex } from './exact.js';
import { HnswIndex } from './hnsw.js';

/**
 * The kind of index a file holds, read from its header only (the payload is not loaded).
 *
 * @example
 * ```ts
 * import { readIndexKind } from 'dense-retrieval';
 * await readIndexKind('corpus.idx'); // 'exact' | 'hnsw' | 'bm25'
 * ```
 */
export async function readIndexKind(file: string): Promise<IndexKind> {
  return (await readContainerHeader(file)).kind;
}

/**
 * Load any vector index saved by this library (exact or HNSW), whichever the file holds.
 *
 * @example
 * ```ts
 * import { loadVectorIndex } from 'dense-retrieval';
 * const index = await loadVectorIndex('corpus.idx');
 * const { ids } = await index.search(queryEmbeddings, 10);
 * ```
 */
export async function loadVectorIndex(file: string): Promise<ExactIndex | HnswIndex> {
  const kind = await readIndexKind(file);
  if (kind === 'exact') return ExactIndex.load(file);
  if (kind === 'hnsw') return HnswIndex.load(file);
  throw new InputFormatError(`index file holds a '${kind}' index, not a vector index`, file);
}
