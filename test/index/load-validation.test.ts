import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { Bm25Index } from '../../src/index/bm25.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { tmpDir } from '../helpers/tmp.js';
import { jsonBytes, parseJsonBytes, rewriteContainer } from './container-helpers.js';

/*
 * Loaded structures are validated, not trusted: each input here once loaded and answered with wrong numbers
 * (null ids, NaN scores, fewer rows than asked). They are written back with valid checksums, as a crafted
 * or version-1 file would be, so the structural checks are what refuses them.
 */

const dir = tmpDir();
const formatError = (file: string, re: RegExp) => (e: unknown) =>
  e instanceof InputFormatError && e.file === file && re.test(e.message);

async function exactFile(metric: 'ip' | 'cosine' = 'ip'): Promise<string> {
  const index = new ExactIndex({ dim: 2, metric });
  await index.add({ data: new Float32Array([1, 0, 0, 1, 1, 1]), rows: 3, cols: 2 }, ['a', 'b', 'c']);
  const file = path.join(dir, `exact-${metric}.idx`);
  await index.save(file);
  return file;
}

test('exact index: a NaN or infinite vector is refused, naming the document', async () => {
  const file = await exactFile();
  for (const [value, word] of [
    [NaN, 'NaN'],
    [Infinity, 'an infinite value'],
  ] as const) {
    const out = path.join(dir, 'nan.idx');
    await rewriteContainer(file, out, (_h, s) => {
      new DataView(s.vectors.buffer, s.vectors.byteOffset).setFloat32(12, value, true); // row 1, column 1
    });
    await assert.rejects(
      ExactIndex.load(out),
      formatError(out, new RegExp(`vector of 'b' \\(row 1\\) contains ${word}`)),
    );
  }
});

test('exact index: duplicate, empty, whitespace or missing ids and size mismatches are refused', async () => {
  const file = await exactFile();
  const out = path.join(dir, 'ids.idx');
  const cases: [(h: Record<string, unknown>, s: Record<string, Uint8Array>) => void, RegExp][] = [
    [(_h, s) => (s.ids = jsonBytes(['a', 'b', 'a'])), /duplicate id 'a' in section 'ids'/],
    [(_h, s) => (s.ids = jsonBytes(['a', 'b c', 'd'])), /id 1 in section 'ids' is "b c"/],
    [(_h, s) => (s.ids = jsonBytes(['a', '', 'd'])), /id 1 in section 'ids' is ""/],
    [(_h, s) => (s.ids = jsonBytes(['a', 5, 'd'])), /id 1 in section 'ids' is 5/],
    [(_h, s) => (s.ids = jsonBytes({ a: 1 })), /section 'ids' must list 3 ids/],
    [(_h, s) => (s.ids = jsonBytes(['a', 'b'])), /section 'ids' must list 3 ids/],
    [(_h, s) => delete s.ids, /section 'ids' missing/],
    [(_h, s) => (s.ids = Uint8Array.from([0x5b, 0x22, 0xff, 0x22, 0x5d])), /section 'ids' is not valid JSON/],
    [
      (_h, s) => (s.vectors = s.vectors.slice(0, 16)),
      /section 'vectors' holds 4 values, the header's size x dim is 6/,
    ],
    [(_h, s) => (s.vectors = s.vectors.slice(0, 15)), /section 'vectors' is not whole float32s/],
    [(h) => (h.size = 2), /section 'ids' must list 2 ids/],
    [(h) => (h.dim = 3), /holds 6 values, the header's size x dim is 9/],
  ];
  for (const [mutate, re] of cases) {
    await rewriteContainer(file, out, (h, s) => {
      mutate(h, s);
    });
    await assert.rejects(ExactIndex.load(out), formatError(out, re), String(re));
  }
});

test('exact index under cosine: a stored vector that is not unit-length is refused (norms consistent)', async () => {
  const file = await exactFile('cosine');
  const out = path.join(dir, 'norm.idx');
  await rewriteContainer(file, out, (_h, s) => {
    new DataView(s.vectors.buffer, s.vectors.byteOffset).setFloat32(0, 2, true);
  });
  await assert.rejects(ExactIndex.load(out), formatError(out, /'a' \(row 0\) has norm 2/));
});

async function bm25File(): Promise<string> {
  const index = new Bm25Index();
  index.addDocuments([
    { id: 'd1', title: 'Cats', text: 'Cats purr when they are happy.' },
    { id: 'd2', title: '', text: 'Dogs bark at cats.' },
    { id: 'd3', title: 'Birds', text: 'Birds sing in the morning.' },
  ]);
  const file = path.join(dir, 'bm25.idx');
  await index.save(file);
  return file;
}

test('bm25: out-of-range or repeated postings, bad frequencies and inconsistent norms are refused', async () => {
  const file = await bm25File();
  const good = await Bm25Index.load(file);
  assert.deepEqual(good.search(['cats'], 2).ids[0].slice().sort(), ['d1', 'd2']);
  const out = path.join(dir, 'bad-bm25.idx');
  const int32 = (s: Uint8Array): DataView => new DataView(s.buffer, s.byteOffset, s.byteLength);
  const cases: [(h: Record<string, unknown>, s: Record<string, Uint8Array>) => void, RegExp][] = [
    [(_h, s) => int32(s.docs).setInt32(0, 3, true), /lists document row 3 \(out of range or out of order\)/],
    [(_h, s) => int32(s.docs).setInt32(0, 1_000_000, true), /lists document row 1000000/],
    [(_h, s) => int32(s.docs).setInt32(0, -1, true), /lists document row -1/],
    [(_h, s) => int32(s.tfs).setInt32(0, 0, true), /term frequency 0/],
    [(_h, s) => int32(s.tfs).setInt32(0, 9, true), /the norm of 'd\d' does not match its postings/],
    [(_h, s) => (s.norms[1] += 1), /the norm of 'd2' does not match its postings/],
    [(h) => (h.sumLength = (h.sumLength as number) + 1), /'sumLength' is \d+, the postings sum to/],
    [(_h, s) => int32(s.counts).setInt32(0, 0, true), /invalid posting count 0/],
    [(_h, s) => int32(s.counts).setInt32(0, 1e6, true), /invalid posting count 1000000/],
    [(h) => (h.postings = 1), /sections 'docs'\/'tfs' have \d+\/\d+ postings, the header says 1/],
    [
      (_h, s) => (s.terms = jsonBytes(['x', 'x'])),
      /section 'counts' has \d+ entries for 2 terms|repeats a term/,
    ],
    [(_h, s) => (s.terms = jsonBytes([1])), /section 'terms' must be a list of non-empty strings/],
    [(_h, s) => (s.norms = s.norms.slice(1)), /section 'norms' has 2 entries for 3 documents/],
    [(h) => (h.k1 = 'high'), /field 'k1' must be a finite number/],
    [(h) => (h.b = 2), /field 'b' must be a finite number in \[0, 1\], got 2/],
  ];
  for (const [mutate, re] of cases) {
    await rewriteContainer(file, out, (h, s) => {
      mutate(h, s);
    });
    await assert.rejects(Bm25Index.load(out), formatError(out, re), String(re));
  }
  // The terms list survives a rewrite untouched (the helper is not what fails above).
  await rewriteContainer(file, out, (_h, s) => {
    assert.ok(Array.isArray(parseJsonBytes(s.terms)));
  });
  assert.deepEqual((await Bm25Index.load(out)).search(['cats'], 2), good.search(['cats'], 2));
});

test('hnsw: header fields of the wrong type name the field and the file', async () => {
  const index = new HnswIndex({ dim: 2, metric: 'cosine', M: 4 });
  await index.add({ data: new Float32Array([1, 0, 0, 1]), rows: 2, cols: 2 }, ['a', 'b']);
  const file = path.join(dir, 'h.hnsw');
  await index.save(file);
  const out = path.join(dir, 'h-bad.hnsw');
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ M: '4' }, /field 'M' must be an integer/],
    [{ dim: 2 ** 50 }, /field 'dim' must be an integer/],
    [{ mipsTransform: 'yes' }, /field 'mipsTransform' must be true or false/],
    [{ mipsTransform: true }, /'mipsTransform' is set for metric 'cosine'/],
    [{ maxNorm: -1 }, /field 'maxNorm' must be a finite number in \[0, /],
    [{ efSearch: 0 }, /field 'efSearch' must be an integer/],
    [{ M: 5 }, /corrupt hnsw graph: size_data_per_element is 52, expected 60/],
    // inputDim (the Matryoshka input width) must be at least dim; with both at 3 the graph check refuses it.
    [{ dim: 3 }, /field 'inputDim' must be an integer in \[3, /],
    [{ dim: 3, inputDim: 3 }, /corrupt hnsw graph: size_data_per_element/],
  ];
  for (const [patch, re] of cases) {
    await rewriteContainer(file, out, (h) => Object.assign(h, patch));
    await assert.rejects(HnswIndex.load(out), formatError(out, re), JSON.stringify(patch));
  }
});

test('hnsw: stored points whose norms disagree with the metric (cosine: 1, ip reduction: Φ) are refused', async () => {
  const m = { data: new Float32Array([3, 0, 0, 4, 1, 1]), rows: 3, cols: 2 };
  const ip = new HnswIndex({ dim: 2, metric: 'ip', M: 4, mipsTransform: true });
  await ip.add(m, ['a', 'b', 'c']);
  const file = path.join(dir, 'ip.hnsw');
  await ip.save(file);
  const out = path.join(dir, 'ip-bad.hnsw');
  await rewriteContainer(file, out, (h) => (h.maxNorm = 5));
  await assert.rejects(HnswIndex.load(out), formatError(out, /every stored point should have norm 5/));
  const cos = new HnswIndex({ dim: 2, metric: 'cosine', M: 4 });
  await cos.add(m, ['a', 'b', 'c']);
  await cos.save(file);
  await rewriteContainer(file, out, (_h, s) => {
    const g = new DataView(s.graph.buffer);
    const offsetData = Number(g.getBigUint64(40, true));
    g.setFloat32(96 + offsetData, g.getFloat32(96 + offsetData, true) * 2, true); // first element, x0 doubled
  });
  await assert.rejects(
    HnswIndex.load(out),
    formatError(out, /element 0 has norm [\d.]+, every stored point should have norm 1/),
  );
  // The undamaged files load (the check accepts the norms hnswlib writes).
  assert.equal((await HnswIndex.load(file)).size, 3);
});

test('ids with whitespace are refused when added, naming the id and its position', async () => {
  const m = { data: new Float32Array([1, 0, 0, 1]), rows: 2, cols: 2 };
  for (const index of [new ExactIndex({ dim: 2 }), new HnswIndex({ dim: 2 })]) {
    for (const bad of ['d 1', 'd\t1', 'd1\n', ' ', '']) {
      await assert.rejects(
        index.add(m, ['ok', bad]),
        (e: unknown) =>
          e instanceof ArgumentError &&
          /ids: id .* at position 1|ids: id at position 1 is empty/.test(e.message),
      );
    }
    assert.equal(index.size, 0, 'nothing was added');
  }
  const bm25 = new Bm25Index();
  assert.throws(
    () => bm25.addDocuments([{ id: 'a b', title: '', text: 'x' }]),
    /docs: id "a b" at position 0 contains whitespace/,
  );
  assert.equal(bm25.size, 0);
});
