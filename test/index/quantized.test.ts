import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { BinaryIndex } from '../../src/index/binary.js';
import { ExactIndex } from '../../src/index/exact.js';
import { Int8Index } from '../../src/index/int8.js';
import { loadVectorIndex } from '../../src/index/load.js';
import { quantizeEmbeddings, ScalarQuantizer, calibrationRanges } from '../../src/util/quantize.js';
import { readContainer, sectionBytes, writeContainer } from '../../src/index/container.js';
import { measureIndex } from '../../src/index/recall.js';
import type { Metric } from '../../src/index/types.js';
import type { Matrix } from '../../src/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { ids, randomMatrix } from './helpers.js';

/** Brute-force reference ranking: score desc, then the greater id first (trec_eval), top k. */
function topK(scores: number[], docIds: string[], k: number): { ids: string[]; scores: number[] } {
  const order = scores.map((_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || (docIds[a] < docIds[b] ? 1 : -1));
  return { ids: order.slice(0, k).map((i) => docIds[i]), scores: order.slice(0, k).map((i) => scores[i]) };
}

function bit(m: Matrix, row: number, j: number): number {
  return m.data[row * m.cols + j] > 0 ? 1 : 0;
}

const n = 300;
const d = 40; // not a multiple of 32: the last code word is padded
const docs = randomMatrix(n, d, 7);
const queries = randomMatrix(6, d, 8);
const docIds = ids(n);

test('binary: the code scan returns the Hamming top-k of a brute force (rescore off)', async () => {
  const index = new BinaryIndex({ dim: d });
  await index.add(docs, docIds);
  const k = 12;
  const got = await index.search(queries, k, { rescore: false });
  for (let qi = 0; qi < queries.rows; qi++) {
    const ham = Array.from({ length: n }, (_, r) => {
      let h = 0;
      for (let j = 0; j < d; j++) h += bit(queries, qi, j) !== bit(docs, r, j) ? 1 : 0;
      return h;
    });
    // Reference: the k nearest, equal distances taken in row order; then ranked as trec_eval would.
    const rowsByDist = ham
      .map((_, r) => r)
      .sort((a, b) => ham[a] - ham[b] || a - b)
      .slice(0, k);
    const expected = topK(
      rowsByDist.map((r) => -ham[r]),
      rowsByDist.map((r) => docIds[r]),
      k,
    );
    assert.deepEqual(got.ids[qi], expected.ids, `query ${qi}`);
    assert.deepEqual(Array.from(got.scores[qi]), expected.scores);
  }
});

test('binary: rescoring over the whole corpus equals the brute force of q · bits (ST rescore)', async () => {
  const index = new BinaryIndex({ dim: d, rescoreMultiplier: n });
  await index.add(docs, docIds);
  const got = await index.search(queries, 10);
  for (let qi = 0; qi < queries.rows; qi++) {
    const s = Array.from({ length: n }, (_, r) => {
      let x = 0;
      for (let j = 0; j < d; j++) x += bit(docs, r, j) * queries.data[qi * d + j];
      return x;
    });
    const e = topK(s, docIds, 10);
    assert.deepEqual(got.ids[qi], e.ids);
    e.scores.forEach((v, j) => assert.ok(Math.abs(got.scores[qi][j] - v) < 1e-5));
  }
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: int8 code scan = brute force of the float query against the dequantized codes (rescore off)`, async () => {
    await initBackend({ backend });
    try {
      // 2500 rows: several 1024-row blocks of the matMul path, and a filter across them. An offset shared by
      // every vector (ranges far from centred at 0) is what an integer product of two codes got wrong.
      const big = randomMatrix(2500, 24, 9);
      for (let i = 0; i < big.data.length; i++) big.data[i] += 3;
      const q = randomMatrix(7, 24, 10);
      const names = ids(2500);
      const qz = new ScalarQuantizer(calibrationRanges(big));
      const codes = Int8Array.from(quantizeEmbeddings(big, 'uint8').data, (c) => c - 128);
      const deq = (r: number, j: number) => qz.min[j] + qz.steps[j] * (codes[r * 24 + j] + 128.5);
      const keep = (id: string): boolean => Number(id.slice(1)) % 3 !== 1;
      for (const metric of ['ip', 'l2'] as Metric[]) {
        const index = new Int8Index({ dim: 24, metric });
        await index.add(big, names);
        const before = tf.memory().numTensors;
        const got = await index.search(q, 10, { rescore: false, filter: keep });
        assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
        for (let qi = 0; qi < q.rows; qi++) {
          const s = Array.from({ length: 2500 }, (_, r) => {
            let x = 0;
            for (let j = 0; j < 24; j++) {
              const a = q.data[qi * 24 + j];
              x += metric === 'l2' ? -((a - deq(r, j)) ** 2) : a * deq(r, j);
            }
            return x;
          });
          const rowsBy = s
            .map((_, r) => r)
            .filter((r) => keep(names[r]))
            .sort((a, b) => s[b] - s[a] || a - b)
            .slice(0, 10);
          assert.deepEqual(
            got.ids[qi],
            rowsBy.map((r) => names[r]),
            `${metric} query ${qi}`,
          );
          rowsBy.forEach((r, j) =>
            assert.ok(Math.abs(got.scores[qi][j] - s[r]) < 1e-3 * (1 + Math.abs(s[r]))),
          );
        }
      }
    } finally {
      await initBackend();
    }
  });
}

for (const metric of ['ip', 'cosine', 'l2'] as Metric[]) {
  test(`${metric}: with float vectors kept and the multiplier covering the corpus, results equal exact search`, async () => {
    const exact = new ExactIndex({ dim: d, metric });
    await exact.add(docs, docIds);
    const want = await exact.search(queries, 10);
    for (const index of [
      new Int8Index({ dim: d, metric, keepVectors: true, rescoreMultiplier: 30 }),
      new BinaryIndex({ dim: d, metric, keepVectors: true, rescoreMultiplier: 30 }),
    ]) {
      await index.add(docs, docIds);
      const got = await index.search(queries, 10);
      assert.deepEqual(got.ids, want.ids, index.constructor.name);
      got.scores.forEach((s, q) => s.forEach((v, j) => assert.ok(Math.abs(v - want.scores[q][j]) < 1e-5)));
    }
  });
}

test('rescoring raises recall; measureIndex reports recall and bytes per vector', async () => {
  const big = randomMatrix(2000, 64, 11);
  const q = randomMatrix(20, 64, 12);
  const exact = new ExactIndex({ dim: 64, metric: 'cosine' });
  await exact.add(big, ids(2000));
  const bin = new BinaryIndex({ dim: 64, metric: 'cosine' });
  const i8 = new Int8Index({ dim: 64, metric: 'cosine' });
  await bin.add(big, ids(2000));
  await i8.add(big, ids(2000));
  const binPlain = await measureIndex(bin, exact, q, 10, { rescoreMultiplier: 1 });
  const binRescored = await measureIndex(bin, exact, q, 10, { rescoreMultiplier: 10 });
  assert.equal(binRescored.bytesPerVector, 8);
  assert.equal(binRescored.float32BytesPerVector, 256);
  assert.ok(binRescored.recall > binPlain.recall, `${binRescored.recall} vs ${binPlain.recall}`);
  const i8Report = await measureIndex(i8, exact, q, 10);
  assert.equal(i8Report.bytesPerVector, 64);
  assert.ok(i8Report.recall >= 0.9, `int8 recall ${i8Report.recall}`);
  assert.equal(bin.memoryBytes, 2000 * 8);
});

test('save/load round-trips both kinds (ranges, kept vectors, truncation) through loadVectorIndex', async () => {
  const dir = tmpDir();
  for (const index of [
    new Int8Index({ dim: d, metric: 'cosine', truncateDim: 32 }),
    new BinaryIndex({ dim: d, keepVectors: true, metric: 'l2' }),
  ]) {
    await index.add(docs, docIds);
    const file = path.join(dir, `${index.constructor.name}.idx`);
    await index.save(file);
    const loaded = await loadVectorIndex(file);
    assert.equal(loaded.constructor, index.constructor);
    assert.deepEqual(await loaded.search(queries, 7), await index.search(queries, 7));
  }
  const file = path.join(dir, 'Int8Index.idx');
  await assert.rejects(BinaryIndex.load(file), InputFormatError);
});

test('bad options are ArgumentErrors naming the option', () => {
  assert.throws(
    () => new BinaryIndex({ dim: 8, metric: 'l2' }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'metric',
  );
  assert.throws(
    () => new Int8Index({ dim: 8, rescoreMultiplier: 0 }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'rescoreMultiplier',
  );
  assert.throws(
    () => new Int8Index({ dim: 8, truncateDim: 9 }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'truncateDim',
  );
});

/** Brute force of the float query against dequantized int8 codes (`min + step * middle(code)`). */
function int8Rescored(
  codes: Int8Array,
  qz: ScalarQuantizer,
  middle: (c: number) => number,
  qi: number,
): number[] {
  return Array.from({ length: n }, (_, r) => {
    let s = 0;
    for (let j = 0; j < d; j++) {
      s += queries.data[qi * d + j] * (qz.min[j] + qz.steps[j] * middle(codes[r * d + j]));
    }
    return s;
  });
}

test('int8: rescoring over the whole corpus equals the brute force of q · dequantized uniform-bucket codes', async () => {
  const index = new Int8Index({ dim: d, metric: 'ip', rescoreMultiplier: 30 });
  await index.add(docs, docIds);
  const qz = new ScalarQuantizer(calibrationRanges(docs));
  // Uniform buckets: code c = floor(t) - 128 holds t in [c + 128, c + 129): middle c + 128.5.
  const codes = Int8Array.from(quantizeEmbeddings(docs, 'uint8').data, (c) => c - 128);
  const got = await index.search(queries, 10);
  for (let qi = 0; qi < queries.rows; qi++) {
    const e = topK(
      int8Rescored(codes, qz, (c) => c + 128.5, qi),
      docIds,
      10,
    );
    assert.deepEqual(got.ids[qi], e.ids);
    e.scores.forEach((v, j) => assert.ok(Math.abs(got.scores[qi][j] - v) < 1e-5));
  }
});

test('int8: a file saved with ST int8 codes (no int8Codes field) is searched with those codes', async () => {
  const dir = tmpDir();
  const index = new Int8Index({ dim: d, metric: 'ip', rescoreMultiplier: 30 });
  await index.add(docs, docIds);
  const file = path.join(dir, 'old.idx');
  await index.save(file);
  // Rewrite the file as an earlier version wrote it: ST's int8 codes, no int8Codes header field.
  const { header, sections } = await readContainer(file, 'int8');
  assert.equal(header.int8Codes, 'floor');
  delete header.int8Codes;
  const stCodes = quantizeEmbeddings(docs, 'int8').data;
  const raw: Record<string, Uint8Array> = {};
  for (const [name, section] of sections) raw[name] = sectionBytes(section, file);
  raw.codes = new Uint8Array(stCodes.buffer, stCodes.byteOffset, stCodes.byteLength);
  await writeContainer(file, header, raw);
  const loaded = await Int8Index.load(file);
  const qz = new ScalarQuantizer(calibrationRanges(docs));
  const got = await loaded.search(queries, 10);
  // The rescoring uses ST's bucket middles: compare with dequantizeInt8 per dimension.
  for (let qi = 0; qi < queries.rows; qi++) {
    const s = Array.from({ length: n }, (_, r) => {
      let x = 0;
      for (let j = 0; j < d; j++) x += queries.data[qi * d + j] * qz.dequantizeInt8(stCodes[r * d + j], j);
      return x;
    });
    const e = topK(s, docIds, 10);
    assert.deepEqual(got.ids[qi], e.ids);
  }
  // Re-saved, it keeps its formula.
  await loaded.save(file);
  assert.equal((await readContainer(file, 'int8')).header.int8Codes, 'trunc');
});

test('unknown option keys are ArgumentErrors: constructors and search of the quantized and exact kinds', async () => {
  const typo = { dim: 8, rescoreMultipler: 4 } as unknown as { dim: number };
  for (const make of [() => new Int8Index(typo), () => new BinaryIndex(typo)]) {
    assert.throws(make, (e: unknown) => e instanceof ArgumentError && /rescoreMultipler/.test(e.message));
  }
  for (const index of [new Int8Index({ dim: d }), new BinaryIndex({ dim: d }), new ExactIndex({ dim: d })]) {
    await index.add(docs, docIds);
    await assert.rejects(
      index.search(queries, 3, { efSearch: 10 } as never),
      (e: unknown) => e instanceof ArgumentError && /efSearch/.test(e.message),
      index.constructor.name,
    );
  }
});
