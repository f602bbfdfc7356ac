import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Row } from '../../benchmarks/lib/common.js';
import { attachReference, formatTable } from '../../benchmarks/lib/report.js';

const shape = { layers: 6, hidden: 384, heads: 12, intermediate: 1536, vocab: 30522, batchSize: 32 };

test('each row is paired with the reference of the same benchmark (and the same ef) as ours / theirs', () => {
  const ours: Row[] = [
    { name: 'train-step', backend: 'wasm', ...shape, seqLen: 128, steps: 2, miniBatch: 4, pairsPerSec: 2 },
    {
      name: 'encode',
      backend: 'wasm',
      ...shape,
      seqLen: 256,
      variant: 'workers=2',
      texts: 200,
      corpusTexts: 2000,
      textsPerSec: 30,
    },
    {
      name: 'index-hnsw',
      backend: 'HnswIndex',
      vectors: 100,
      dim: 4,
      queries: 5,
      M: 16,
      ef: 40,
      qps: 900,
      recallAt10: 0.9,
    },
    {
      name: 'index-hnsw',
      backend: 'HnswIndex',
      vectors: 100,
      dim: 4,
      queries: 5,
      M: 16,
      ef: 80,
      qps: 500,
      recallAt10: 0.95,
    },
  ];
  const reference: Row[] = [
    { name: 'index-hnsw', backend: 'faiss-IndexHNSWFlat', ef: 80, qps: 1000, recallAt10: 0.96 },
    { name: 'train-step', backend: 'pytorch', pairsPerSec: 8 },
    { name: 'encode', backend: 'pytorch', textsPerSec: 60 },
  ];
  attachReference(ours, reference);
  assert.deepEqual(
    ours.map((r) => [r.referenceBackend, r.reference, r.ratio]),
    [
      ['pytorch', 8, 0.25],
      ['pytorch', 60, 0.5],
      [undefined, undefined, undefined],
      ['faiss-IndexHNSWFlat', 1000, 0.5],
    ],
  );
  assert.equal(ours[3].referenceRecallAt10, 0.96);
  const table = formatTable(ours).split('\n');
  assert.equal(table.length, 2 + ours.length);
  assert.match(
    table[2],
    /^train-step\s+wasm\s+6x384\/12h\/1536 seq 128 b 32, 2 steps, grad cache 4\s+2\.00\s+pairs\/s\s+8\.00 pytorch\s+0\.250x$/,
  );
  assert.match(table[5], /M 16 ef 80\s+500\s+QPS\s+0\.950\s+1000 faiss-IndexHNSWFlat\s+0\.960\s+0\.500x$/);
});

test('quantized rows: faiss SQ8 (one operating point) is matched at equal recall with the smallest multiplier reaching it', () => {
  const row = (m: number, qps: number, recallAt10: number): Row => ({
    name: 'index-int8',
    backend: 'Int8Index',
    rescoreMultiplier: m,
    qps,
    recallAt10,
  });
  const ours = [row(1, 400, 0.9), row(4, 300, 0.9945), row(10, 200, 0.996), row(20, 150, 0.997)];
  const binary: Row[] = [
    { name: 'index-binary', backend: 'BinaryIndex', rescoreMultiplier: 4, qps: 50, recallAt10: 0.656 },
  ];
  attachReference(
    [...ours, ...binary],
    [
      { name: 'index-int8', backend: 'faiss-SQ8', qps: 100, recallAt10: 0.996 },
      {
        name: 'index-binary',
        backend: 'faiss-IndexBinaryFlat',
        rescoreMultiplier: 4,
        qps: 100,
        recallAt10: 0.657,
      },
    ],
  );
  // 0.9945 is more than one hit in a thousand below 0.996: x10 is the first at equal recall.
  assert.deepEqual(
    ours.map((r) => [r.equalRecall, r.matchedRecall === true, r.ratio]),
    [
      [false, false, 4],
      [false, false, 3],
      [true, true, 2],
      [true, false, 1.5],
    ],
  );
  assert.equal(binary[0].equalRecall, true);
  assert.equal(binary[0].ratio, 0.5);
  const table = formatTable(ours).split('\n');
  assert.match(table[4], /2\.000x at equal recall <- matched$/);
  assert.match(table[2], /4\.000x \(lower recall\)$/);
  // No multiplier reaches the reference: the best recall is marked, and is not at equal recall.
  const low = [row(1, 400, 0.9), row(4, 300, 0.95)];
  attachReference(low, [{ name: 'index-int8', backend: 'faiss-SQ8', qps: 100, recallAt10: 0.99 }]);
  assert.deepEqual(
    low.map((r) => [r.equalRecall, r.matchedRecall === true]),
    [
      [false, false],
      [false, true],
    ],
  );
});
