import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { InputFormatError } from '../../src/errors.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import type { SearchResult } from '../../src/index/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { rewriteContainer } from './container-helpers.js';
import { ids, randomMatrix } from './helpers.js';

/*
 * Damaged hnswlib graphs, written back with valid container checksums (as a crafted file or a version-1
 * file would be), so that the graph validation itself is what refuses them before hnswlib's loader runs.
 * Offsets below are read from the graph's own header, as hnswlib's saveIndex lays it out.
 */

const dir = tmpDir();
const file = path.join(dir, 'g.hnsw');
const queries = randomMatrix(5, 8, 2);
let expected: SearchResult;

before(async () => {
  const index = new HnswIndex({ dim: 8, metric: 'l2', M: 3, efConstruction: 20 });
  await index.add(randomMatrix(300, 8, 1), ids(300));
  await index.save(file);
  expected = await index.search(queries, 5);
});

interface Graph {
  bytes: Uint8Array;
  view: DataView;
  n: number;
  spe: number;
  labelOffset: number;
  offsetData: number;
  maxM: number;
  /** Byte offset of each element's upper link lists, and its level. */
  upper: { at: number; level: number }[];
}

function parse(bytes: Uint8Array): Graph {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(16, true));
  const spe = Number(view.getBigUint64(24, true));
  const maxM = Number(view.getBigUint64(56, true));
  const upper: { at: number; level: number }[] = [];
  let pos = 96 + n * spe;
  for (let e = 0; e < n; e++) {
    const size = view.getUint32(pos, true);
    upper.push({ at: pos + 4, level: size / (4 + 4 * maxM) });
    pos += 4 + size;
  }
  return {
    bytes,
    view,
    n,
    spe,
    labelOffset: Number(view.getBigUint64(32, true)),
    offsetData: Number(view.getBigUint64(40, true)),
    maxM,
    upper,
  };
}

async function damaged(name: string, edit: (g: Graph) => Uint8Array | void): Promise<string> {
  const out = path.join(dir, `${name}.hnsw`);
  await rewriteContainer(file, out, (_header, sections) => {
    const g = parse(sections.graph);
    const replaced = edit(g);
    if (replaced) sections.graph = replaced;
  });
  return out;
}

async function refused(name: string, edit: (g: Graph) => Uint8Array | void, re: RegExp): Promise<void> {
  const out = await damaged(name, edit);
  await assert.rejects(
    HnswIndex.load(out),
    (e: unknown) => e instanceof InputFormatError && e.file === out && re.test(e.message),
    name,
  );
}

test('the undamaged graph loads and searches as before (the validation passes real graphs)', async () => {
  const loaded = await HnswIndex.load(file);
  assert.deepEqual(await loaded.search(queries, 5), expected);
  const same = await HnswIndex.load(await damaged('same', () => undefined));
  assert.deepEqual(await same.search(queries, 5), expected);
});

test('a damaged graph header is a typed error, never a native crash', async () => {
  await refused(
    'entry',
    (g) => g.view.setUint32(52, 0x0fffffff, true),
    /entry point 268435455 is not an element/,
  );
  await refused(
    'count',
    (g) => g.view.setBigUint64(16, 301n, true),
    /cur_element_count is 301, expected 300/,
  );
  await refused(
    'count50',
    (g) => g.view.setBigUint64(16, 2n ** 50n, true),
    /cur_element_count is 1125899906842624/,
  );
  await refused('spe', (g) => g.view.setBigUint64(24, BigInt(g.spe + 4), true), /size_data_per_element/);
  await refused('label-offset', (g) => g.view.setBigUint64(32, 0n, true), /label_offset is 0/);
  await refused('offset-data', (g) => g.view.setBigUint64(40, 1n, true), /offsetData is 1/);
  await refused('maxlevel', (g) => g.view.setInt32(48, g.view.getInt32(48, true) + 1, true), /top level/);
  await refused('maxlevel-neg', (g) => g.view.setInt32(48, -5, true), /top level -5 is negative/);
  await refused('maxM', (g) => g.view.setBigUint64(56, 1000n, true), /maxM is 1000, expected 3/);
  await refused(
    'maxM0',
    (g) => g.view.setBigUint64(64, 2n ** 40n, true),
    /maxM0 is 1099511627776, expected 6/,
  );
  await refused('mult', (g) => g.view.setFloat64(80, NaN, true), /level multiplier NaN/);
  await refused('mult-huge', (g) => g.view.setFloat64(80, 1e300, true), /level multiplier 1e\+300/);
  await refused('efc', (g) => g.view.setBigUint64(88, 7n, true), /ef_construction is 7, expected 20/);
  await refused('offset0', (g) => g.view.setBigUint64(0, 8n, true), /offsetLevel0 is 8, expected 0/);
  await refused('short', (g) => g.bytes.slice(0, 50), /50 bytes, shorter than hnswlib's 96-byte header/);
  await refused('cut', (g) => g.bytes.slice(0, g.bytes.length - 3), /run past the end|end early/);
  await refused('trailing', (g) => Uint8Array.from([...g.bytes, 0, 0, 0, 0]), /4 unexpected trailing bytes/);
});

test('a max_elements of 2^50 cannot allocate: the capacity is set to the element count, results unchanged', async () => {
  const out = await damaged('max50', (g) => g.view.setBigUint64(8, 2n ** 50n, true));
  const loaded = await HnswIndex.load(out);
  assert.equal(loaded.capacity, 300);
  assert.deepEqual(await loaded.search(queries, 5), expected);
  await refused(
    'max-below',
    (g) => g.view.setBigUint64(8, 10n, true),
    /max_elements 10 is below the element count 300/,
  );
});

test('damaged level-0 records are typed errors: links, counts, labels, deleted flags, values', async () => {
  const rec = (g: Graph, e: number): number => 96 + e * g.spe;
  await refused(
    'link0',
    (g) => g.view.setUint32(rec(g, 7) + 4, 300, true),
    /element 7 links to 300 on level 0/,
  );
  await refused('link0-big', (g) => g.view.setUint32(rec(g, 7) + 4, 0x0fffffff, true), /links to 268435455/);
  await refused(
    'count0',
    (g) => g.view.setUint16(rec(g, 9), 7, true),
    /element 9 has 7 level-0 links, at most 6/,
  );
  await refused(
    'deleted',
    (g) => {
      g.bytes[rec(g, 4) + 2] = 1;
    },
    /element 4 \(row \d+\) is marked deleted, but the index lists it as live/,
  );
  await refused(
    'label-dup',
    (g) =>
      g.view.setBigUint64(
        rec(g, 5) + g.labelOffset,
        g.view.getBigUint64(rec(g, 6) + g.labelOffset, true),
        true,
      ),
    /element 6 has label \d+, not a new row|element 5 has label \d+, not a new row/,
  );
  await refused(
    'label-big',
    (g) => g.view.setBigUint64(rec(g, 5) + g.labelOffset, 2n ** 40n, true),
    /label 1099511627776/,
  );
  await refused(
    'nan',
    (g) => g.view.setFloat32(rec(g, 11) + g.offsetData + 8, NaN, true),
    /element 11 stores a non-finite/,
  );
});

test('damaged upper levels are typed errors: block sizes, levels, links to elements absent on that level', async () => {
  await refused(
    'upper-size',
    (g) => {
      const e = g.upper.findIndex((u) => u.level > 0);
      g.view.setUint32(g.upper[e].at - 4, g.view.getUint32(g.upper[e].at - 4, true) + 1, true);
    },
    /upper link block of \d+ bytes|run past the end|trailing/,
  );
  await refused(
    'upper-absent',
    (g) => {
      const e = g.upper.findIndex((u) => u.level > 0 && g.view.getUint16(u.at, true) > 0);
      const flat = g.upper.findIndex((u) => u.level === 0);
      g.view.setUint32(g.upper[e].at + 4, flat, true);
    },
    /links to \d+ on level 1, where it is absent/,
  );
  await refused(
    'upper-count',
    (g) => {
      const e = g.upper.findIndex((u) => u.level > 0);
      g.view.setUint16(g.upper[e].at, g.maxM + 1, true);
    },
    /invalid link count on level 1/,
  );
  await refused(
    'entry-low',
    (g) => {
      const flat = g.upper.findIndex((u) => u.level === 0);
      g.view.setUint32(52, flat, true);
    },
    /entry point \d+ is on level 0, not the top level/,
  );
});
