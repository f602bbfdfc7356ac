import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { InputFormatError } from '../../src/errors.js';
import { Bm25Index } from '../../src/index/bm25.js';
import {
  INDEX_FORMAT_VERSION,
  readContainer,
  sectionBytes,
  setContainerChunkBytes,
  writeContainer,
} from '../../src/index/container.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { readIndexKind } from '../../src/index/load.js';
import { tmpDir } from '../helpers/tmp.js';
import { rawContainer, sha256 } from './container-helpers.js';
import { FIXTURES } from './helpers.js';

const isFormatError = (file: string, re: RegExp) => (e: unknown) =>
  e instanceof InputFormatError && e.file === file && re.test(e.message);

test('round trip in many small chunks: sections, header and version 2 checksums', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'c.idx');
  const vectors = Float32Array.from({ length: 1000 }, (_, i) => i / 3);
  setContainerChunkBytes(7); // every read, hash and write crosses chunk boundaries
  try {
    await writeContainer(file, { kind: 'exact', note: 'x' }, { a: new Uint8Array([1, 2, 3]), vectors });
    const { header, version, sections } = await readContainer(file, 'exact');
    assert.equal(version, INDEX_FORMAT_VERSION);
    assert.equal(version, 2);
    assert.deepEqual(header, { kind: 'exact', note: 'x' });
    assert.deepEqual(Array.from(sectionBytes(sections.get('a')!, file)), [1, 2, 3]);
    assert.deepEqual(new Float32Array(sections.get('vectors')!.buffer), vectors);
  } finally {
    setContainerChunkBytes(64 * 1024 * 1024);
  }
  // The stored digests are the sha256 of the section bytes (checked with an independent hash call).
  const bytes = await fs.readFile(file);
  const headerLen = bytes.readUInt32LE(12);
  const stored = JSON.parse(bytes.subarray(48, 48 + headerLen).toString('utf8')) as {
    sections: { name: string; sha256: string }[];
  };
  assert.equal(stored.sections[1].sha256, sha256(new Uint8Array(vectors.buffer)));
  assert.equal(sha256(bytes.subarray(48, 48 + headerLen)), bytes.subarray(16, 48).toString('hex'));
});

test('a header length of 0xFFFFFFFF (or any beyond the file) is a typed error, before any allocation', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'x.idx');
  const index = new ExactIndex({ dim: 2 });
  await index.add({ data: new Float32Array([1, 2, 3, 4]), rows: 2, cols: 2 }, ['a', 'b']);
  await index.save(file);
  const bytes = await fs.readFile(file);
  for (const len of [0xffffffff, 0x7fffffff, bytes.length]) {
    const bad = Buffer.from(bytes);
    bad.writeUInt32LE(len, 12);
    await fs.writeFile(file, bad);
    await assert.rejects(
      ExactIndex.load(file),
      isFormatError(file, new RegExp(`truncated index file: header length ${len} exceeds`)),
    );
    await assert.rejects(readIndexKind(file), isFormatError(file, /header length/));
  }
});

test('the header schema is validated field by field, errors naming the file and the field', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'h.idx');
  const cases: [unknown, RegExp][] = [
    [{ kind: 'exact', sections: 5 }, /header field 'sections' must be a list, got 5/],
    [{ kind: 'exact' }, /header field 'sections' must be a list, got undefined/],
    [[1, 2], /header is not an object/],
    ['exact', /header is not an object/],
    [
      { kind: 'vectors', sections: [] },
      /header field 'kind' must be one of exact, hnsw, bm25, int8, binary, got "vectors"/,
    ],
    [{ kind: 'exact', sections: [5] }, /'sections\[0\]' is not an object/],
    [
      { kind: 'exact', sections: [{ name: 7, bytes: 0, sha256: sha256(new Uint8Array()) }] },
      /sections\[0\]'\.name/,
    ],
    [
      { kind: 'exact', sections: [{ name: 'a', bytes: '0', sha256: sha256(new Uint8Array()) }] },
      /sections\[0\]'\.bytes must be a non-negative integer, got "0"/,
    ],
    [
      { kind: 'exact', sections: [{ name: 'a', bytes: -1, sha256: sha256(new Uint8Array()) }] },
      /sections\[0\]'\.bytes must be a non-negative integer, got -1/,
    ],
    [
      { kind: 'exact', sections: [{ name: 'a', bytes: 2 ** 60, sha256: sha256(new Uint8Array()) }] },
      /sections\[0\]'\.bytes must be a non-negative integer/,
    ],
    [
      { kind: 'exact', sections: [{ name: 'a', bytes: 2 ** 40, sha256: sha256(new Uint8Array()) }] },
      /truncated index file: section 'a' needs 1099511627776 bytes, 0 left/,
    ],
    [{ kind: 'exact', sections: [{ name: 'a', bytes: 0 }] }, /sections\[0\]'\.sha256 must be 64 hex digits/],
  ];
  for (const [header, re] of cases) {
    await fs.writeFile(file, rawContainer(header));
    await assert.rejects(readContainer(file), isFormatError(file, re), `${JSON.stringify(header)}`);
  }
  // Typed loaders check their own fields: wrong types and ranges name the field and the file.
  const fields: [Record<string, unknown>, RegExp][] = [
    [{ dim: '4' }, /field 'dim' must be an integer in \[1, /],
    [{ dim: 0 }, /field 'dim' must be an integer/],
    [{ size: 1.5 }, /field 'size' must be an integer/],
    [{ metric: 'dot' }, /field 'metric' must be one of ip, cosine, l2, got "dot"/],
    [{ blockSize: null }, /field 'blockSize' must be an integer/],
  ];
  for (const [patch, re] of fields) {
    const header = { kind: 'exact', dim: 2, size: 0, metric: 'ip', blockSize: 16, ...patch };
    await fs.writeFile(file, rawContainer({ ...header, sections: [] }));
    await assert.rejects(ExactIndex.load(file), isFormatError(file, re), JSON.stringify(patch));
  }
});

test('a flipped bit anywhere in a section or the header is a checksum error; trailing bytes are refused', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'b.idx');
  const index = new ExactIndex({ dim: 4 });
  await index.add({ data: Float32Array.from({ length: 40 }, (_, i) => i), rows: 10, cols: 4 }, [
    ...'abcdefghij',
  ]);
  await index.save(file);
  const bytes = await fs.readFile(file);
  const headerLen = bytes.readUInt32LE(12);
  const vectorsAt = bytes.length - 160;
  const flipped = path.join(dir, 'flip.idx');
  const at = (pos: number, bit: number): Buffer => {
    const b = Buffer.from(bytes);
    b[pos] ^= 1 << bit;
    return b;
  };
  await fs.writeFile(flipped, at(vectorsAt + 37, 3)); // a low mantissa bit of one stored value
  await assert.rejects(
    ExactIndex.load(flipped),
    isFormatError(flipped, /checksum mismatch in section 'vectors'/),
  );
  await fs.writeFile(flipped, at(48 + headerLen + 2, 0)); // inside the ids JSON
  await assert.rejects(
    ExactIndex.load(flipped),
    isFormatError(flipped, /checksum mismatch in section 'ids'/),
  );
  await fs.writeFile(flipped, at(48 + 10, 1)); // inside the header JSON
  await assert.rejects(ExactIndex.load(flipped), isFormatError(flipped, /header checksum mismatch/));
  await fs.writeFile(flipped, at(20, 4)); // inside the stored header digest
  await assert.rejects(ExactIndex.load(flipped), isFormatError(flipped, /header checksum mismatch/));
  await fs.writeFile(flipped, Buffer.concat([bytes, Buffer.from([0])]));
  await assert.rejects(ExactIndex.load(flipped), isFormatError(flipped, /1 unexpected trailing bytes/));
});

test('version-1 files (no checksums) still load and search as they did', async () => {
  const exact = await ExactIndex.load(path.join(FIXTURES, 'v1-exact.idx'));
  assert.equal(exact.metric, 'cosine');
  assert.deepEqual(exact.documentIds, ['a', 'b', 'c', 'd', 'e', 'f']);
  const r = await exact.search({ data: new Float32Array([0, 0, 0, 1]), rows: 1, cols: 4 }, 2);
  assert.deepEqual(r.ids[0], ['e', 'd']); // e = (0,0,0,5): cosine 1; d = (1,1,1,1): cosine 0.5
  assert.ok(Math.abs(r.scores[0][0] - 1) < 1e-6 && Math.abs(r.scores[0][1] - 0.5) < 1e-6);
  const hnsw = await HnswIndex.load(path.join(FIXTURES, 'v1-hnsw.idx'));
  assert.equal(hnsw.mipsTransform, true);
  const h = await hnsw.search({ data: new Float32Array([1, 1, 1, 1]), rows: 1, cols: 4 }, 3);
  // Dot products: e 5, d 4, then c and f both 3: the tie goes to the higher id, as trec_eval orders it.
  assert.deepEqual(h.ids[0], ['e', 'd', 'f']);
  assert.deepEqual(Array.from(h.scores[0]), [5, 4, 3]);
  const bm25 = await Bm25Index.load(path.join(FIXTURES, 'v1-bm25.idx'));
  assert.deepEqual(bm25.search(['cats'], 2).ids[0].slice().sort(), ['d1', 'd2']);
  // A version-1 file gets the same structural checks: a whitespace id is refused.
  const dir = tmpDir();
  const bad = path.join(dir, 'v1-bad.idx');
  const raw = await fs.readFile(path.join(FIXTURES, 'v1-exact.idx'));
  await fs.writeFile(bad, Buffer.from(raw.toString('latin1').replace('"a"', '" "'), 'latin1'));
  await assert.rejects(ExactIndex.load(bad), isFormatError(bad, /id 0 in section 'ids' is " "/));
});

after(() => setContainerChunkBytes(64 * 1024 * 1024));
