import { ArgumentError } from '../errors.js';
import { readContainer, writeContainer } from './container.js';
import {
  CODE_SLACK,
  HAMMING_KERNEL_MAX_DIM,
  HammingKernel,
  hammingKernelSwitch,
  hammingModule,
} from './hamming-kernel.js';
import { baseOptionsFromHeader, QUANTIZED_OPTION_KEYS, QuantizedIndex } from './quantized.js';
import type { QuantizedIndexOptions, RowHeap } from './quantized.js';

/** Options of {@link BinaryIndex}. */
export type BinaryIndexOptions = QuantizedIndexOptions;

/** Set bits of a 32-bit word (SWAR popcount; JS has no popcount instruction). */
function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/**
 * Exact Hamming search over binary codes with rescoring: each document is stored as its sign bits
 * (`quantizeEmbeddings(x, 'ubinary')`: 1 bit per dimension, 32x less than float32; rows padded to whole
 * 32-bit words), every search scans all codes by Hamming distance to the query's sign bits (XOR and
 * popcount, faiss `IndexBinaryFlat`), keeps the `k * rescoreMultiplier` nearest (equal distances: the
 * earlier row) and rescores them with the float32 query: against the document's bits (ST's `rescore`,
 * `q · bits`, which ranks as `q · sign(x)`) or, with `keepVectors`, against the float32 documents.
 *
 * The scan is a WebAssembly SIMD kernel (`src/index/hamming.wat`: `i8x16.popcnt` on 16-byte loads, four
 * queries per pass over the codes, the `k * rescoreMultiplier` nearest selected inside the kernel in O(n)
 * with a distance histogram), about 4 ns per document and query on one core, 6-10x the JavaScript scan it
 * replaces. It is instantiated on the first search and the codes then live in its memory (no copy per
 * search). The JavaScript scan (SWAR popcount, four queries per pass) runs instead, with the same results,
 * where WebAssembly SIMD is missing, for more than 65,535 dimensions, for codes under 64 KiB (fast enough,
 * and each WebAssembly memory reserves address space) or over 4 GiB (32-bit memory), and when the candidate
 * pool is so large that its scratch would exceed a 16th of the codes (and 256 KiB).
 *
 * Trade-offs: binary codes lose far more than int8, so `rescoreMultiplier` matters more (4–10 is
 * typical; ST's benchmarks keep about 96 % of float nDCG with rescoring); `keepVectors` recovers exact
 * scores at 33x the code memory. `l2` needs `keepVectors` (bits carry no norm). One thread: faiss's
 * `IndexBinaryFlat` runs its scan on every core, this kernel on one (one search at a time keeps the other
 * cores free for the caller); at 100k x 384 it still answers faster than faiss on two cores
 * (docs/performance.md). Memory: the kernel's memory grows to whole 64 KiB pages, not by doubling, and
 * holds the codes plus a few kilobytes of scan scratch (`allocatedBytes` counts it all).
 *
 * @example
 * ```ts
 * import { BinaryIndex } from 'dense-retrieval';
 * const index = new BinaryIndex({ dim: 384, metric: 'cosine', rescoreMultiplier: 8 });
 * await index.add(corpus, ids);
 * const { ids: top } = await index.search(queries, 10);
 * console.log(index.bytesPerVector); // 48
 * ```
 */
export class BinaryIndex extends QuantizedIndex {
  protected readonly codeBytes: number;
  private readonly words: number;
  private queryBits = new Uint32Array(0);
  private dist: Uint16Array | Uint32Array = new Uint16Array(0);
  private dist4: Uint16Array | Uint32Array = new Uint16Array(0);
  /** The WebAssembly SIMD kernel, once a search has used it: from then on the codes live in its memory. */
  private kernel: HammingKernel | null = null;

  constructor(opts: BinaryIndexOptions) {
    super(opts, 'BinaryIndex', QUANTIZED_OPTION_KEYS);
    this.words = Math.ceil(this.dim / 32);
    this.codeBytes = this.words * 4;
    if (this.metric === 'l2' && !this.keepVectors) {
      throw new ArgumentError('metric', "'l2' needs keepVectors: true (sign bits carry no distances)");
    }
  }

  /** Sign bits, MSB first within each byte (np.packbits order), zero-padded to whole words. */
  protected encode(data: Float32Array, rows: number, out: Uint8Array): void {
    const d = this.dim;
    const cb = this.codeBytes;
    out.fill(0, 0, rows * cb);
    for (let r = 0; r < rows; r++) {
      const src = r * d;
      const dst = r * cb;
      // Number(x > 0), not a branch: sign bits are coin flips, a branch on each mispredicts half the time.
      for (let j = 0; j < d; j++) out[dst + (j >> 3)] |= Number(data[src + j] > 0) << (7 - (j & 7));
    }
  }

  /**
   * Bytes allocated for codes (once the kernel holds them, its whole memory: codes and scan scratch) and
   * kept vectors.
   */
  override get allocatedBytes(): number {
    if (this.kernel === null) return super.allocatedBytes;
    return this.kernel.byteLength + this.vectors.byteLength;
  }

  /** Once the kernel holds the codes they grow in place in its memory, to the page needed (no doubling). */
  protected override growCodes(rows: number, keepBytes: number): Uint8Array {
    if (this.kernel !== null) {
      const bytes = rows * this.codeBytes;
      try {
        if (bytes + CODE_SLACK <= hammingKernelSwitch.maxBytes) {
          this.kernel.reserve(bytes + CODE_SLACK);
          return new Uint8Array(this.kernel.buffer, 0, bytes);
        }
      } catch {
        // memory.grow refused (RangeError): nothing was detached; continue as below.
      }
      // The codes outgrow the kernel's 32-bit memory: back to an ordinary array and the JavaScript scan.
      this.kernel = null;
    }
    return super.growCodes(rows, keepBytes);
  }

  /**
   * The kernel, instantiated on the first search that can use it (WebAssembly SIMD present, not switched
   * off, codes between 64 KiB and 4 GiB), the codes moved into its memory once; null for the JavaScript scan.
   */
  private useKernel(): HammingKernel | null {
    const { enabled, minCodeBytes, maxBytes } = hammingKernelSwitch;
    if (!enabled || this.dim > HAMMING_KERNEL_MAX_DIM) return null;
    if (this.kernel === null) {
      const used = this.size * this.codeBytes;
      if (used < minCodeBytes || used + CODE_SLACK > maxBytes) return null;
      const module = hammingModule();
      if (module === null) return null;
      let kernel: HammingKernel;
      try {
        kernel = new HammingKernel(module);
        kernel.reserve(used + CODE_SLACK);
      } catch {
        return null; // no memory or address space for one more WebAssembly memory: the JavaScript scan
      }
      const codes = new Uint8Array(kernel.buffer, 0, used);
      codes.set(this.codes.subarray(0, used));
      this.kernel = kernel;
      this.codes = codes;
    }
    return this.kernel;
  }

  protected beginSearch(queries: Float32Array, rows: number): void {
    const bytes = new Uint8Array(rows * this.codeBytes);
    this.encode(queries, rows, bytes);
    this.queryBits = new Uint32Array(bytes.buffer);
  }

  /**
   * The kernel's scan when it can run: its scratch (queries, per-query histograms and candidate buffers)
   * must stay small next to the codes (a 16th of them or 256 KiB), else the JavaScript scan runs (a
   * candidate pool of a large share of the corpus gains little from the kernel's selection anyway).
   */
  private kernelScan(heaps: RowHeap[], allowed: Uint8Array | null): boolean {
    const n = this.size;
    const cands = heaps[0].k;
    if (n === 0 || cands === 0) return false;
    const kernel = this.useKernel();
    if (kernel === null) return false;
    const codeBytes = n * this.codeBytes;
    const lay = HammingKernel.layout(codeBytes, this.codeBytes, this.dim, n, cands, allowed !== null);
    if (lay.end - codeBytes > Math.max(262144, codeBytes / 16) || lay.end > hammingKernelSwitch.maxBytes) {
      return false;
    }
    // Read before growing: memory.grow detaches this.codes, whose length then reads 0.
    const held = this.codes.length;
    try {
      if (kernel.reserve(lay.end)) this.codes = new Uint8Array(kernel.buffer, 0, held);
    } catch {
      return false; // memory.grow refused: nothing was detached
    }
    const qb = new Uint8Array(this.queryBits.buffer, this.queryBits.byteOffset, this.queryBits.byteLength);
    kernel.scan(n, this.codeBytes, this.dim, qb, heaps.length, cands, allowed, lay, (qi, row, h) =>
      heaps[qi].push(-h, row),
    );
    return true;
  }

  protected scan(_queries: Float32Array, qi: number, heap: RowHeap, allowed: Uint8Array | null): void {
    const w = this.words;
    const docs = new Uint32Array(this.codes.buffer, this.codes.byteOffset, this.size * w);
    const q = this.queryBits.subarray(qi * w, (qi + 1) * w);
    const n = this.size;
    if (this.dist.length < n) this.dist = this.distances(n);
    const dist = this.dist;
    const bits = this.dim;
    for (let row = 0; row < n; row++) {
      if (allowed !== null && allowed[row] === 0) {
        dist[row] = bits + 1; // never selected
        continue;
      }
      const o = row * w;
      let h = 0;
      for (let j = 0; j < w; j++) h += popcount32(q[j] ^ docs[o + j]);
      dist[row] = h;
    }
    this.select(dist, heap);
  }

  /**
   * Four queries per pass over the codes: each document word is loaded once for four XOR-popcounts (1.3-1.5x
   * the one-query loop in a micro-benchmark on this project's machines); the rest go one at a time.
   */
  protected override scanAll(queries: Float32Array, heaps: RowHeap[], allowed: Uint8Array | null): void {
    if (heaps.length === 0 || this.kernelScan(heaps, allowed)) return;
    const w = this.words;
    const n = this.size;
    const bits = this.dim;
    const docs = new Uint32Array(this.codes.buffer, this.codes.byteOffset, n * w);
    const qb = this.queryBits;
    const four = heaps.length - (heaps.length % 4);
    if (four > 0 && this.dist4.length < 4 * n) this.dist4 = this.distances(4 * n);
    const d4 = this.dist4;
    for (let q0 = 0; q0 < four; q0 += 4) {
      const a0 = q0 * w;
      for (let row = 0; row < n; row++) {
        if (allowed !== null && allowed[row] === 0) {
          d4[row] = d4[n + row] = d4[2 * n + row] = d4[3 * n + row] = bits + 1;
          continue;
        }
        const o = row * w;
        let a = 0;
        let b = 0;
        let c = 0;
        let e = 0;
        for (let j = 0; j < w; j++) {
          const x = docs[o + j];
          a += popcount32(qb[a0 + j] ^ x);
          b += popcount32(qb[a0 + w + j] ^ x);
          c += popcount32(qb[a0 + 2 * w + j] ^ x);
          e += popcount32(qb[a0 + 3 * w + j] ^ x);
        }
        d4[row] = a;
        d4[n + row] = b;
        d4[2 * n + row] = c;
        d4[3 * n + row] = e;
      }
      for (let i = 0; i < 4; i++) this.select(d4.subarray(i * n, (i + 1) * n), heaps[q0 + i]);
    }
    for (let qi = four; qi < heaps.length; qi++) this.scan(queries, qi, heaps[qi], allowed);
  }

  /** A distance per row; `dim + 1` (filtered out) must fit, so above 65534 dimensions 32-bit. */
  private distances(length: number): Uint16Array | Uint32Array {
    return this.dim + 1 > 0xffff ? new Uint32Array(length) : new Uint16Array(length);
  }

  /** Keep the `heap.k` nearest rows by distance (`dim + 1` = filtered out); ties: the earlier row. */
  private select(dist: Uint16Array | Uint32Array, heap: RowHeap): void {
    const n = this.size;
    const bits = this.dim;
    const hist = new Int32Array(bits + 2);
    for (let row = 0; row < n; row++) hist[dist[row]]++;
    // Counting selection instead of a heap: distances are small integers. Find the distance t at which
    // the k-th candidate lies, take every row nearer than t and the earliest rows at t.
    const k = heap.k;
    let t = 0;
    let below = 0;
    while (t <= bits && below + hist[t] < k) below += hist[t++];
    let atT = k - below;
    for (let row = 0; row < n; row++) {
      const h = dist[row];
      if (h > bits) continue; // filtered out
      if (h < t) heap.push(-h, row);
      else if (h === t && atT > 0) {
        heap.push(-h, row);
        atT--;
      }
    }
  }

  /** ST's rescoring without float documents: q · bits (the unpacked 0/1 code). */
  protected codeRescore(q: Float32Array, offset: number, row: number): number {
    const d = this.dim;
    const base = row * this.codeBytes;
    const codes = this.codes;
    let s = 0;
    // Branch-free, a byte at a time (sign bits are coin flips, so a branch per bit mispredicts half the time:
    // 2.7 us per 384-bit row before); adding 0 * q leaves the sum bit-identical to adding the set bits' q in order.
    const whole = d >> 3;
    for (let b = 0; b < whole; b++) {
      const x = codes[base + b];
      const o = offset + 8 * b;
      s += (x >> 7) * q[o];
      s += ((x >> 6) & 1) * q[o + 1];
      s += ((x >> 5) & 1) * q[o + 2];
      s += ((x >> 4) & 1) * q[o + 3];
      s += ((x >> 3) & 1) * q[o + 4];
      s += ((x >> 2) & 1) * q[o + 5];
      s += ((x >> 1) & 1) * q[o + 6];
      s += (x & 1) * q[o + 7];
    }
    for (let j = whole * 8; j < d; j++) s += ((codes[base + (j >> 3)] >> (7 - (j & 7))) & 1) * q[offset + j];
    return s;
  }

  async save(path: string): Promise<void> {
    const sections = this.baseSections();
    // A copy of the codes in the kernel's memory: an add or search during the write may grow that memory,
    // which detaches the view being written.
    if (this.kernel !== null) sections.codes = sections.codes.slice();
    await writeContainer(path, { kind: 'binary', ...this.baseHeader() }, sections);
  }

  /**
   * Load an index written by {@link BinaryIndex.save}; another format version, another kind or a
   * truncated file is an {@link InputFormatError}.
   */
  static async load(path: string): Promise<BinaryIndex> {
    const { header, sections } = await readContainer(path, 'binary');
    const index = new BinaryIndex(baseOptionsFromHeader(header, path));
    index.restore(header, sections, path);
    return index;
  }
}
