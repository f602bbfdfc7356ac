import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import { BinaryIndex } from '../../src/index/binary.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { Int8Index } from '../../src/index/int8.js';
import type { VectorIndex } from '../../src/index/types.js';
import { ids, randomMatrix } from './helpers.js';

const d = 8;
const n = 60;
const docs = randomMatrix(n, d, 31);
const queries = randomMatrix(3, d, 32);

const kinds: [string, () => VectorIndex][] = [
  ['exact', () => new ExactIndex({ dim: d, metric: 'cosine' })],
  ['hnsw', () => new HnswIndex({ dim: d, metric: 'cosine', M: 8, efConstruction: 32 })],
  ['int8', () => new Int8Index({ dim: d, metric: 'cosine' })],
  ['binary', () => new BinaryIndex({ dim: d, metric: 'cosine' })],
];

for (const [kind, make] of kinds) {
  // hnswlib-node calls the filter from C++: a throw there used to abort the process (SIGABRT), so this
  // test would kill the runner rather than fail if the guard were missing.
  test(`${kind}: a throwing filter rejects with its own error, and the index still searches afterwards`, async () => {
    const index = make();
    await index.add(docs, ids(n));
    const boom = new Error('filter exploded');
    await assert.rejects(
      index.search(queries, 5, {
        filter: () => {
          throw boom;
        },
      }),
      (e) => e === boom,
    );
    const ok = await index.search(queries, 5, { filter: (id) => id !== 'd7' });
    assert.ok(ok.ids.every((list) => list.length === 5 && !list.includes('d7')));
  });

  test(`${kind}: a filter that is not a function is an ArgumentError naming filter`, async () => {
    const index = make();
    await index.add(docs, ids(n));
    for (const bad of [new Set(['d1']), 'd1', null]) {
      await assert.rejects(
        index.search(queries, 5, { filter: bad as never }),
        (e) => e instanceof ArgumentError && /^filter: must be a function/.test(e.message),
      );
    }
    await assert.rejects(index.search(queries, 5, { filter: new Set(['d1']) as never }), /set\.has\(id\)/);
  });

  test(`${kind}: an async filter (or any non-boolean verdict) is refused, not taken as "passes"`, async () => {
    const index = make();
    await index.add(docs, ids(n));
    await assert.rejects(
      index.search(queries, 5, { filter: (async (id: string) => id === 'd1') as never }),
      (e) =>
        e instanceof ArgumentError &&
        /filter: must return a boolean synchronously: it returned a Promise/.test(e.message),
    );
    await assert.rejects(
      index.search(queries, 5, { filter: ((id: string) => (id === 'd1' ? 1 : 0)) as never }),
      (e) => e instanceof ArgumentError && /got number for id/.test(e.message),
    );
  });
}

for (const [kind, make] of kinds) {
  // A filter that grew the HNSW graph from inside hnswlib's native search corrupted memory (free(): invalid
  // size, the process died); on the scanning indexes it moved rows under the scan. The index refuses.
  test(`${kind}: a filter that adds to or removes from the index it filters is refused; the index is unchanged`, async () => {
    const index = make();
    await index.add(docs, ids(n));
    const more = randomMatrix(2000, d, 33);
    const moreIds = Array.from({ length: 2000 }, (_, i) => `n${i}`);
    for (const change of [
      () => index.add(more, moreIds),
      () => index.upsert(more, moreIds),
      () => index.remove(['d3']),
    ]) {
      let attempt: Promise<unknown> | undefined;
      const result = await index.search(queries, 3, {
        filter: (id) => {
          attempt ??= change();
          return id === 'd5';
        },
      });
      await assert.rejects(attempt!, (e) => e instanceof ArgumentError && e.argument === 'filter');
      assert.equal(index.size, n, `${kind}: nothing was added or removed`);
      assert.ok(
        result.ids.every((list) => list.length === 1 && list[0] === 'd5'),
        `${kind}: filtered`,
      );
    }
    const ok = await index.search(queries, 3, { filter: (id) => id === 'd5' || id === 'd6' });
    assert.ok(ok.ids.every((list) => list.length === 2 && list.includes('d5')));
  });
}
