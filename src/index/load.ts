import { promises as fs } from 'node:fs';
import { InputFormatError } from '../errors.js';
import { readContainerHeader } from './container.js';
import type { IndexKind } from './container.js';
import { ExactIndex } from './exact.js';
import { HnswIndex } from './hnsw.js';
import { Int8Index } from './int8.js';
import { BinaryIndex } from './binary.js';
import { PgvectorIndex } from './pgvector.js';

/**
 * The kind of index a file holds, read from its header only (the payload is not loaded).
 *
 * @example
 * ```ts
 * import { readIndexKind } from 'dense-retrieval';
 * await readIndexKind('corpus.idx'); // 'exact' | 'hnsw' | 'bm25' | 'int8' | 'binary'
 * ```
 */
export async function readIndexKind(file: string): Promise<IndexKind> {
  return (await readContainerHeader(file)).kind;
}

/**
 * Load any vector index saved by this library (exact, HNSW, int8, binary, or a pgvector reference),
 * whichever the file holds. A pgvector reference reopens the database it names (`options.database`
 * supplies a server URL with its password).
 *
 * @example
 * ```ts
 * import { loadVectorIndex } from 'dense-retrieval';
 * const index = await loadVectorIndex('corpus.idx');
 * const { ids } = await index.search(queryEmbeddings, 10);
 * ```
 */
export async function loadVectorIndex(
  file: string,
  options: { database?: string; quiet?: boolean } = {},
): Promise<ExactIndex | HnswIndex | Int8Index | BinaryIndex | PgvectorIndex> {
  if (await isJsonFile(file)) return PgvectorIndex.load(file, options);
  const kind = await readIndexKind(file);
  if (kind === 'exact') return ExactIndex.load(file);
  if (kind === 'hnsw') return HnswIndex.load(file);
  if (kind === 'int8') return Int8Index.load(file);
  if (kind === 'binary') return BinaryIndex.load(file);
  throw new InputFormatError(`index file holds a '${kind}' index, not a vector index`, file);
}

/** A pgvector reference is a JSON file; the binary container starts with its magic. */
async function isJsonFile(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    if ((await handle.stat()).isDirectory()) {
      throw new InputFormatError('is a directory, not an index file', file);
    }
    const first = Buffer.alloc(1);
    const { bytesRead } = await handle.read(first, 0, 1, 0);
    return bytesRead === 1 && first[0] === 0x7b; // '{'
  } finally {
    await handle.close();
  }
}
