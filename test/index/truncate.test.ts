import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { BinaryIndex } from '../../src/index/binary.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { Int8Index } from '../../src/index/int8.js';
import { loadVectorIndex } from '../../src/index/load.js';
import type { Metric, VectorIndex } from '../../src/index/types.js';
import { truncateEmbeddings } from '../../src/util/truncate.js';
import { tmpDir } from '../helpers/tmp.js';
import { ids, randomMatrix } from './helpers.js';

const docs = randomMatrix(200, 24, 31);
const queries = randomMatrix(5, 24, 32);

for (const metric of ['ip', 'cosine'] as Metric[]) {
  test(`${metric}: every index with truncateDim ranks as an exact index over the truncated vectors, after save/load too`, async () => {
    const reference = new ExactIndex({ dim: 10, metric });
    await reference.add(truncateEmbeddings(docs, 10, false), ids(200));
    const want = await reference.search(truncateEmbeddings(queries, 10, false), 5);
    const made: VectorIndex[] = [
      new ExactIndex({ dim: 24, metric, truncateDim: 10 }),
      new HnswIndex({ dim: 24, metric, truncateDim: 10, M: 16, efSearch: 200 }),
      new Int8Index({ dim: 24, metric, truncateDim: 10, keepVectors: true, rescoreMultiplier: 40 }),
      new BinaryIndex({ dim: 24, metric, truncateDim: 10, keepVectors: true, rescoreMultiplier: 40 }),
    ];
    const dir = tmpDir();
    for (const index of made) {
      await index.add(docs, ids(200));
      assert.equal(index.dim, 10);
      const got = await index.search(queries, 5);
      assert.deepEqual(got.ids, want.ids, index.constructor.name);
      const file = path.join(dir, `${index.constructor.name}-${metric}.idx`);
      await index.save(file);
      const loaded = await loadVectorIndex(file);
      assert.equal(loaded.dim, 10);
      assert.deepEqual((await loaded.search(queries, 5)).ids, want.ids, `${index.constructor.name} loaded`);
    }
  });
}
