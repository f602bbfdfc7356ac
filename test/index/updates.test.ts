import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { BinaryIndex } from '../../src/index/binary.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { Int8Index } from '../../src/index/int8.js';
import { loadVectorIndex } from '../../src/index/load.js';
import type { Metric, VectorIndex } from '../../src/index/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { ids, randomMatrix, rows } from './helpers.js';

const d = 16;
const n = 400;
const docs = randomMatrix(n, d, 21);
const queries = randomMatrix(8, d, 22);
const docIds = ids(n);

function kinds(metric: Metric): [string, () => VectorIndex][] {
  return [
    ['exact', () => new ExactIndex({ dim: d, metric })],
    ['hnsw', () => new HnswIndex({ dim: d, metric, M: 8, efConstruction: 64, efSearch: 64 })],
    ['int8', () => new Int8Index({ dim: d, metric, keepVectors: true, rescoreMultiplier: 8 })],
    ['binary', () => new BinaryIndex({ dim: d, metric, keepVectors: true, rescoreMultiplier: 8 })],
  ];
}

for (const metric of ['ip', 'cosine'] as Metric[]) {
  for (const [kind, make] of kinds(metric)) {
    test(`${kind} ${metric}: a filter returns k passing documents, a selective one the exact top-k`, async () => {
      const index = make();
      await index.add(docs, docIds);
      const even = (id: string): boolean => Number(id.slice(1)) % 2 === 0;
      const got = await index.search(queries, 10, { filter: even });
      for (const list of got.ids) {
        assert.equal(list.length, 10);
        assert.ok(list.every(even));
      }
      // Seven documents pass: all seven come back, in the exact order.
      const few = new Set(['d3', 'd50', 'd77', 'd120', 'd200', 'd333', 'd399']);
      const exact = new ExactIndex({ dim: d, metric });
      await exact.add(rows(docs, 0, n), docIds);
      const want = await exact.search(queries, 7, { filter: (id) => few.has(id) });
      const sel = await index.search(queries, 10, { filter: (id) => few.has(id) });
      assert.deepEqual(sel.ids, want.ids);
    });

    test(`${kind} ${metric}: removed ids never come back, upserted ids have their new vector, also after save/load`, async () => {
      const index = make();
      await index.add(docs, docIds);
      // Remove the documents that are currently the top hits of query 0.
      const before = await index.search(rows(queries, 0, 1), 5);
      const removed = before.ids[0];
      assert.equal(await index.remove([...removed, 'not-there']), 5);
      assert.equal(index.size, n - 5);
      // Move d7 onto query 1 (it becomes its best hit) and re-add one removed id elsewhere.
      const moved = rows(queries, 1, 2);
      const readd = rows(docs, 100, 101);
      await index.upsert({ data: Float32Array.from([...moved.data, ...readd.data]), rows: 2, cols: d }, [
        'd7',
        removed[0],
      ]);
      assert.equal(index.size, n - 4);
      if ('documentIds' in index) {
        const live = index.documentIds as readonly string[];
        assert.equal(live.length, n - 4);
        assert.ok(removed.slice(1).every((id) => !live.includes(id)) && live.includes(removed[0]));
      }
      const check = async (ix: VectorIndex, label: string): Promise<void> => {
        const r = await ix.search(queries, 10);
        for (const list of r.ids)
          for (const id of removed.slice(1)) assert.ok(!list.includes(id), `${label}: ${id}`);
        assert.equal(r.ids[1][0], 'd7', label);
        // The re-added id sits where document 100 is: querying with that vector finds both.
        const again = await ix.search(readd, 2);
        assert.deepEqual(new Set(again.ids[0]), new Set(['d100', removed[0]]), label);
        // Filters on the updated (and loaded) index: an excluded id stays out, and a filter that allows only
        // removed ids, the re-added one and d100 finds exactly the two live ones.
        const noD7 = await ix.search(queries, 10, { filter: (id) => id !== 'd7' });
        assert.ok(
          noD7.ids.every((list) => list.length === 10 && !list.includes('d7')),
          label,
        );
        const onlyRemoved = await ix.search(queries, 2, {
          filter: (id) => removed.includes(id) || id === 'd100',
        });
        for (const list of onlyRemoved.ids) {
          assert.deepEqual(new Set(list), new Set(['d100', removed[0]]), `${label}: filtered`);
        }
      };
      await check(index, 'in memory');
      const file = path.join(tmpDir(), `${kind}.idx`);
      await index.save(file);
      const loaded = await loadVectorIndex(file);
      assert.equal(loaded.size, n - 4);
      await check(loaded, 'loaded');
    });
  }
}
