import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputFormatError } from '../../src/errors.js';
import { Bm25Index } from '../../src/index/bm25.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { loadVectorIndex, readIndexKind } from '../../src/index/load.js';
import { tmpDir } from '../helpers/tmp.js';

test('a directory where an index file is expected is an InputFormatError naming it, not a bare EISDIR', async () => {
  const dir = tmpDir();
  const loads: [string, () => Promise<unknown>][] = [
    ['loadVectorIndex', () => loadVectorIndex(dir)],
    ['readIndexKind', () => readIndexKind(dir)],
    ['ExactIndex.load', () => ExactIndex.load(dir)],
    ['HnswIndex.load', () => HnswIndex.load(dir)],
    ['Bm25Index.load', () => Bm25Index.load(dir)],
  ];
  for (const [name, load] of loads) {
    await assert.rejects(
      load(),
      (e: unknown) =>
        e instanceof InputFormatError &&
        e.message.includes(dir) &&
        /is a directory, not an index file/.test(e.message),
      name,
    );
  }
});
