import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { InputFormatError } from '../../src/errors.js';
import { BinaryIndex } from '../../src/index/binary.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { Int8Index } from '../../src/index/int8.js';
import { tmpDir } from '../helpers/tmp.js';
import { jsonBytes, rewriteContainer } from './container-helpers.js';
import { ids, randomMatrix } from './helpers.js';

/*
 * The header fields and sections that removals, truncation, tuning and the quantized kinds add are validated
 * on load like the others: written back with valid checksums (a crafted file), so the structural checks
 * are what refuses them.
 */

const dir = tmpDir();
const formatError = (file: string, re: RegExp) => (e: unknown) =>
  e instanceof InputFormatError && e.file === file && re.test(e.message);

async function hnswWithRemovals(): Promise<string> {
  const index = new HnswIndex({ dim: 4, metric: 'ip', M: 4, efConstruction: 16, truncateDim: 3 });
  await index.add(randomMatrix(20, 4, 3), ids(20));
  assert.equal(await index.remove([ids(20)[1], ids(20)[2]]), 2);
  // The second id comes back into the first removed row (the lowest free one), not its own: the stale id
  // of its old row stays in the file beside the live one.
  await index.upsert(randomMatrix(1, 4, 4), [ids(20)[2]]);
  const file = path.join(dir, 'removed.hnsw');
  await index.save(file);
  return file;
}

test('hnsw with removed rows (stale ids repeating a live one) loads with the same rows and answers', async () => {
  const file = await hnswWithRemovals();
  const loaded = await HnswIndex.load(file);
  assert.equal(loaded.size, 19);
  assert.equal(loaded.documentIds.length, 19);
  assert.ok(!loaded.documentIds.includes(ids(20)[1]));
  assert.equal(loaded.documentIds.filter((id) => id === ids(20)[2]).length, 1);
  const r = await loaded.search(randomMatrix(2, 4, 9), 19, { ef: 64 });
  for (const row of r.ids) {
    assert.ok(!row.includes(ids(20)[1]));
    assert.equal(row.filter((id) => id === ids(20)[2]).length, 1);
  }
});

test('hnsw: removed rows out of range, repeated, or disagreeing with the graph marks are refused', async () => {
  const file = await hnswWithRemovals();
  const cases: [unknown, RegExp][] = [
    [[20], /removed row 20 is not a distinct row below the size 20/],
    [[5, 5], /removed row 5 is not a distinct row/],
    [['5'], /removed row "5"/],
    [{ rows: [5] }, /section 'deleted' must be a list/],
    // Row 2 live again: its stale id repeats the live one.
    [[], /duplicate id/],
    [[2, 7], /is not marked deleted, but the index lists it as removed/],
  ];
  for (const [deleted, re] of cases) {
    const out = path.join(dir, 'bad-deleted.hnsw');
    await rewriteContainer(file, out, (_h, s) => {
      s.deleted = jsonBytes(deleted);
    });
    await assert.rejects(HnswIndex.load(out), formatError(out, re), JSON.stringify(deleted));
  }
});

test('hnsw: inputDim and tuning header fields are checked like the others', async () => {
  const file = await hnswWithRemovals();
  const cases: [(h: Record<string, unknown>) => void, RegExp][] = [
    [(h) => (h.inputDim = 2), /field 'inputDim' must be an integer in \[3, /],
    [(h) => (h.inputDim = '4'), /field 'inputDim'/],
    [(h) => (h.tuning = 7), /field 'tuning' must be an object or null/],
    [
      (h) =>
        (h.tuning = {
          targetRecall: 0.9,
          k: 10,
          ef: 0,
          recall: 1,
          recallLowerBound: 1,
          met: true,
          queries: 5,
          source: 'held-out',
          curve: [],
        }),
      /field 'ef' must be an integer in \[1, /,
    ],
  ];
  for (const [mutate, re] of cases) {
    const out = path.join(dir, 'bad-header.hnsw');
    await rewriteContainer(file, out, (h) => mutate(h));
    await assert.rejects(HnswIndex.load(out), formatError(out, re));
  }
});

test('int8 and binary: header fields, section sizes, kept vectors and ranges are validated', async () => {
  const docs = randomMatrix(12, 8, 5);
  const int8 = new Int8Index({ dim: 8, metric: 'cosine', calibration: docs, keepVectors: true });
  await int8.add(docs, ids(12));
  const int8File = path.join(dir, 'v.int8');
  await int8.save(int8File);
  const binary = new BinaryIndex({ dim: 8, metric: 'ip' });
  await binary.add(docs, ids(12));
  const binaryFile = path.join(dir, 'v.binary');
  await binary.save(binaryFile);
  const cases: [string, (h: Record<string, unknown>, s: Record<string, Uint8Array>) => void, RegExp][] = [
    [binaryFile, (h) => (h.rescoreMultiplier = 0), /field 'rescoreMultiplier'/],
    [binaryFile, (h) => (h.metric = 'hamming'), /field 'metric' must be one of/],
    [binaryFile, (h) => (h.truncateDim = 9), /field 'truncateDim' must be an integer in \[1, 8\]/],
    [binaryFile, (h) => (h.codeBytes = 2), /field 'codeBytes'/],
    [
      binaryFile,
      (_h, s) => (s.codes = s.codes.subarray(1)),
      /section 'codes' holds \d+ bytes, the header's size x codeBytes is/,
    ],
    [binaryFile, (_h, s) => (s.ids = jsonBytes([...ids(11), 'd0'])), /duplicate id 'd0'/],
    [int8File, (h) => (h.keepVectors = 'yes'), /field 'keepVectors' must be true or false/],
    [int8File, (_h, s) => delete s.vectors, /vectors/],
    [
      int8File,
      (_h, s) => new DataView(s.vectors.buffer, s.vectors.byteOffset).setFloat32(4, NaN, true),
      /kept vector of 'd0' holds a non-finite value/,
    ],
    [
      int8File,
      (_h, s) => new DataView(s.ranges.buffer, s.ranges.byteOffset).setFloat32(0, 5, true),
      /calibration range of dimension 0 is \[5, /,
    ],
  ];
  for (const [file, mutate, re] of cases) {
    const out = path.join(dir, `bad${path.extname(file)}`);
    await rewriteContainer(file, out, mutate);
    const load = file === int8File ? Int8Index.load(out) : BinaryIndex.load(out);
    await assert.rejects(load, formatError(out, re), re.source);
  }
});
