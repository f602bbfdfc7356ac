import { promises as fs } from 'node:fs';
import { InputFormatError } from '../errors.js';
import { INDEX_FORMAT_VERSION } from './container.js';
import type { IndexKind } from './container.js';
import { ExactIndex } from './exact.js';
import { HnswIndex } from './hnsw.js';
import { Int8Index } from './int8.js';
import { BinaryIndex } from './binary.js';

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
  const handle = await fs.open(file, 'r');
  try {
    const fixed = Buffer.alloc(16);
    const { bytesRead } = await handle.read(fixed, 0, 16, 0);
    if (bytesRead < 16 || fixed.subarray(0, 8).toString('latin1') !== 'DRINDEX\n') {
      throw new InputFormatError('not a dense-retrieval index file (bad magic)', file);
    }
    const version = fixed.readUInt32LE(8);
    if (version !== INDEX_FORMAT_VERSION) {
      throw new InputFormatError(
        `index format version ${version} is not supported (this version of dense-retrieval reads version ${INDEX_FORMAT_VERSION}); rebuild the index`,
        file,
      );
    }
    const len = fixed.readUInt32LE(12);
    const header = Buffer.alloc(len);
    const read = await handle.read(header, 0, len, 16);
    if (read.bytesRead < len) throw new InputFormatError('truncated index file (header)', file);
    try {
      return (JSON.parse(header.toString('utf8')) as { kind: IndexKind }).kind;
    } catch {
      throw new InputFormatError('corrupt index file (header is not valid JSON)', file);
    }
  } finally {
    await handle.close();
  }
}

/**
 * Load any vector index saved by this library (exact, HNSW, int8 or binary), whichever the file holds.
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
): Promise<ExactIndex | HnswIndex | Int8Index | BinaryIndex> {
  const kind = await readIndexKind(file);
  if (kind === 'exact') return ExactIndex.load(file);
  if (kind === 'hnsw') return HnswIndex.load(file);
  if (kind === 'int8') return Int8Index.load(file);
  if (kind === 'binary') return BinaryIndex.load(file);
  throw new InputFormatError(`index file holds a '${kind}' index, not a vector index`, file);
}
