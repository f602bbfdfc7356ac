import { InputFormatError } from '../errors.js';

/**
 * Validation of a serialised hnswlib graph (`HierarchicalNSW::saveIndex`, hnswlib 0.7/0.8 as bundled by
 * hnswlib-node 3) before it reaches the native `loadIndex`, which trusts every byte: a damaged entry point,
 * capacity or link makes it allocate terabytes, read out of bounds, or segfault later in a search or at
 * exit. Nothing here calls into hnswlib; the checks are written from the format, which is:
 *
 * - a 96-byte header of little-endian fields: `offsetLevel0` u64, `max_elements` u64, `cur_element_count`
 *   u64, `size_data_per_element` u64, `label_offset` u64, `offsetData` u64, `maxlevel` i32,
 *   `enterpoint_node` u32, `maxM` u64, `maxM0` u64, `M` u64, `mult` f64, `ef_construction` u64;
 * - the level-0 block, `cur_element_count` records of `size_data_per_element` bytes: a u32 link-list header
 *   (link count in the low 16 bits, the "deleted" flag in byte 2), `maxM0` u32 neighbour ids, the vector
 *   (`dim` float32) at `offsetData`, and the u64 label at `label_offset`;
 * - per element, a u32 byte length of its upper-level link lists (`level * (4 + 4 * maxM)` bytes), then
 *   those lists: per level a u32 header (count) and `maxM` u32 neighbour ids.
 */

const HEADER_BYTES = 96;

/** What the graph must agree with: the container header and the id mapping. */
export interface HnswGraphExpectation {
  /** Dimension of the points hnswlib stores (the vector dimension, + 1 under the inner-product reduction). */
  dim: number;
  /** Number of elements (= number of ids). */
  count: number;
  /** `M` the index was built with. */
  M: number;
  /** `efConstruction` the index was built with. */
  efConstruction: number;
  /**
   * The norm every stored point must have, or zero: 1 for hnswlib's `cosine` space (it normalises points),
   * Φ under the inner-product reduction (every point is lifted to it); omitted when norms are free.
   */
  norm?: number;
  /** Rows (labels) removed with `HnswIndex.remove`: exactly these carry hnswlib's "deleted" mark. */
  deleted?: ReadonlySet<number>;
}

/** Where the pieces of a validated graph are. */
export interface HnswGraphLayout {
  sizePerElement: number;
  offsetData: number;
  labelOffset: number;
}

/** Byte offset of the `max_elements` field. */
export const MAX_ELEMENTS_OFFSET = 8;

/**
 * Check every field, count, label and link of `graph` against `expect`; throws an
 * {@link InputFormatError} naming `file` and the first inconsistency. After it returns, hnswlib's loader and
 * searches stay within the bytes they read: labels are a permutation of `0..count-1`, every link points at an
 * element that exists on that level, the entry point sits on the top level, and every stored value is
 * finite.
 */
export function checkHnswGraph(
  graph: Uint8Array,
  expect: HnswGraphExpectation,
  file: string,
): HnswGraphLayout {
  const fail = (what: string): never => {
    throw new InputFormatError(`corrupt hnsw graph: ${what}`, file);
  };
  const len = graph.byteLength;
  if (len < HEADER_BYTES) fail(`${len} bytes, shorter than hnswlib's ${HEADER_BYTES}-byte header`);
  const view = new DataView(graph.buffer, graph.byteOffset, len);
  // u64 fields are compared as bigints: a corrupt 2^50 must not round into something plausible.
  const u64 = (at: number): bigint => view.getBigUint64(at, true);
  const field = (at: number, name: string, want: number): void => {
    const got = u64(at);
    if (got !== BigInt(want)) fail(`${name} is ${got}, expected ${want}`);
  };
  const n = expect.count;
  const m = Math.min(expect.M, 10000); // hnswlib clamps M to 10000
  const maxM0 = 2 * m;
  const linksLevel0 = 4 + 4 * maxM0;
  const offsetData = linksLevel0;
  const labelOffset = offsetData + 4 * expect.dim;
  const sizePerElement = labelOffset + 8;
  const linksUpper = 4 + 4 * m;

  field(0, 'offsetLevel0', 0);
  const maxElements = u64(MAX_ELEMENTS_OFFSET);
  if (maxElements < BigInt(n)) fail(`max_elements ${maxElements} is below the element count ${n}`);
  field(16, 'cur_element_count', n);
  field(24, 'size_data_per_element', sizePerElement);
  field(32, 'label_offset', labelOffset);
  field(40, 'offsetData', offsetData);
  const maxLevel = view.getInt32(48, true);
  const entry = view.getUint32(52, true);
  field(56, 'maxM', m);
  field(64, 'maxM0', maxM0);
  field(72, 'M', m);
  const mult = view.getFloat64(80, true);
  const wantMult = 1 / Math.log(m);
  const multOk =
    m === 1 ? mult === Infinity : Number.isFinite(mult) && Math.abs(mult - wantMult) <= 1e-12 * wantMult;
  if (!multOk) fail(`level multiplier ${mult} is not 1/ln(M) = ${wantMult}`);
  field(88, 'ef_construction', Math.max(expect.efConstruction, m));

  if (n === 0) {
    if (maxLevel !== -1 || entry !== 0xffffffff || len !== HEADER_BYTES) {
      fail('an empty graph must have no entry point, no levels and no data');
    }
    return { sizePerElement, offsetData, labelOffset };
  }
  if (entry >= n) fail(`entry point ${entry} is not an element (count ${n})`);
  if (maxLevel < 0) fail(`top level ${maxLevel} is negative`);
  const level0End = HEADER_BYTES + n * sizePerElement;
  if (level0End > len) fail(`level-0 block needs ${n * sizePerElement} bytes, ${len - HEADER_BYTES} present`);

  const seenLabel = new Uint8Array(n);
  for (let e = 0; e < n; e++) {
    const base = HEADER_BYTES + e * sizePerElement;
    const count = view.getUint16(base, true);
    // Byte 2 is hnswlib's DELETE_MARK (0 or 1), checked against the removed rows once the label is known.
    const deletedMark = graph[base + 2];
    if (deletedMark > 1 || graph[base + 3] !== 0) fail(`element ${e} has unknown flags set`);
    if (count > maxM0) fail(`element ${e} has ${count} level-0 links, at most ${maxM0} allowed`);
    for (let j = 0; j < count; j++) {
      const to = view.getUint32(base + 4 + 4 * j, true);
      if (to >= n) fail(`element ${e} links to ${to} on level 0 (count ${n})`);
    }
    let sq = 0;
    for (let j = 0; j < expect.dim; j++) {
      const x = view.getFloat32(base + offsetData + 4 * j, true);
      if (!Number.isFinite(x)) fail(`element ${e} stores a non-finite value`);
      sq += x * x;
    }
    if (expect.norm !== undefined && sq !== 0) {
      const norm = Math.sqrt(sq);
      if (Math.abs(norm - expect.norm) > 1e-3 * expect.norm) {
        fail(`element ${e} has norm ${norm}, every stored point should have norm ${expect.norm}`);
      }
    }
    const label = u64(base + labelOffset);
    if (label >= BigInt(n) || seenLabel[Number(label)] === 1) {
      fail(`element ${e} has label ${label}, not a new row below ${n}`);
    }
    seenLabel[Number(label)] = 1;
    const removed = expect.deleted?.has(Number(label)) === true;
    if (deletedMark !== (removed ? 1 : 0)) {
      fail(
        `element ${e} (row ${label}) is ${deletedMark === 1 ? '' : 'not '}marked deleted, but the index ` +
          `lists it as ${removed ? 'removed' : 'live'}`,
      );
    }
  }

  // Upper levels: first the sizes (each level needs to be known before links to it are checked).
  const levels = new Int32Array(n);
  const listAt = new Float64Array(n);
  let pos = level0End;
  let top = 0;
  for (let e = 0; e < n; e++) {
    if (pos + 4 > len) fail(`link lists end early at element ${e}`);
    const bytes = view.getUint32(pos, true);
    pos += 4;
    if (bytes % linksUpper !== 0) fail(`element ${e} has an upper link block of ${bytes} bytes`);
    const level = bytes / linksUpper;
    if (level > maxLevel) fail(`element ${e} reaches level ${level}, above the top level ${maxLevel}`);
    if (pos + bytes > len) fail(`element ${e}'s upper link lists run past the end of the graph`);
    levels[e] = level;
    listAt[e] = pos;
    pos += bytes;
    if (level > top) top = level;
  }
  if (pos !== len) fail(`${len - pos} unexpected trailing bytes`);
  if (top !== maxLevel) fail(`top level ${maxLevel}, but the highest element is on level ${top}`);
  if (levels[entry] !== maxLevel)
    fail(`entry point ${entry} is on level ${levels[entry]}, not the top level`);
  for (let e = 0; e < n; e++) {
    for (let l = 1; l <= levels[e]; l++) {
      const at = listAt[e] + (l - 1) * linksUpper;
      const count = view.getUint16(at, true);
      if (view.getUint16(at + 2, true) !== 0 || count > m) {
        fail(`element ${e} has an invalid link count on level ${l}`);
      }
      for (let j = 0; j < count; j++) {
        const to = view.getUint32(at + 4 + 4 * j, true);
        if (to >= n || levels[to] < l) fail(`element ${e} links to ${to} on level ${l}, where it is absent`);
      }
    }
  }
  return { sizePerElement, offsetData, labelOffset };
}

/**
 * The first `dim` coordinates of every element's stored point, by label (row), from a graph that passed
 * {@link checkHnswGraph}. Read straight from the bytes because hnswlib-node has no bulk accessor and its
 * `getPoint` takes ~36 µs per row (over half a minute for a million vectors).
 */
export function hnswGraphVectors(
  graph: Uint8Array,
  layout: HnswGraphLayout,
  count: number,
  dim: number,
): Float32Array {
  const view = new DataView(graph.buffer, graph.byteOffset, graph.byteLength);
  const out = new Float32Array(Math.max(count, 1) * dim);
  for (let e = 0; e < count; e++) {
    const at = HEADER_BYTES + e * layout.sizePerElement;
    const row = Number(view.getBigUint64(at + layout.labelOffset, true));
    for (let j = 0; j < dim; j++) out[row * dim + j] = view.getFloat32(at + layout.offsetData + 4 * j, true);
  }
  return out;
}
