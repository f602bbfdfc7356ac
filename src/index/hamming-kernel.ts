import { HAMMING_WASM_BASE64 } from './hamming-wasm.js';

/*
 * Threads: not used. faiss's IndexBinaryFlat scans on every core (OpenMP); this kernel runs on one. Measured
 * before deciding (issue 17): one thread of the kernel scans 100k x 384 codes at about 4 ns per document and
 * query (2,500 queries/s), above faiss on two cores (600-1,000 QPS with its numpy rescoring, runs F/H of
 * docs/performance.md), so a worker pool over shared memory (a worker per index, SharedArrayBuffer codes,
 * Atomics hand-off, a process-wide thread budget) would buy at most 2x on this 2-core machine at the cost
 * of threads living in the caller's process. Revisit if the target moves to many-core servers.
 */

/**
 * Internal switch (not exported from the package): tests turn the kernel off to run the JavaScript
 * fallback, which is what runs where WebAssembly SIMD is missing.
 */
export const hammingKernelSwitch = {
  enabled: true,
  /**
   * Smaller code sets stay in JavaScript (fast enough there): every WebAssembly memory takes a page and,
   * on 64-bit V8, gigabytes of reserved address space, of which a process has room for a few hundred.
   */
  minCodeBytes: 65536,
  /** Largest memory the kernel may use: 32-bit WebAssembly memory ends at 4 GiB; above, the JavaScript scan. */
  maxBytes: 2 ** 32 - 65536,
};

/** Largest dimension the kernel takes: distances and its u16 lane sums stay below 2^16. */
export const HAMMING_KERNEL_MAX_DIM = 65535;

/** Bytes kept free after the codes: the last 16-byte load of a row may read up to 12 bytes past it. */
export const CODE_SLACK = 16;

const PAGE = 65536;

/** The part of the WebAssembly API used here, typed by hand: the project compiles without its lib types. */
type WasmModule = object;
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
}
const wasmApi = (): WasmApi | undefined => (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: WasmModule | null | undefined;

/**
 * The compiled kernel, or null when this runtime has no WebAssembly SIMD. Compiled on first use only
 * (synchronously: the module is 2.5 kB, below the 4 kB browsers still compile synchronously on a main thread).
 */
export function hammingModule(): WasmModule | null {
  if (compiled === undefined) {
    compiled = null;
    const wasm = wasmApi();
    if (wasm !== undefined) {
      const bytes = Uint8Array.from(atob(HAMMING_WASM_BASE64), (c) => c.charCodeAt(0));
      try {
        // validate() is false where SIMD is missing: the JavaScript scan runs there.
        if (wasm.validate(bytes)) compiled = new wasm.Module(bytes);
      } catch {
        compiled = null;
      }
    }
  }
  return compiled;
}

type Scan = (
  n: number,
  rowBytes: number,
  chunks: number,
  q: number,
  mask: number,
  allowed: number,
  state: number,
  k: number,
  cap: number,
) => void;

/** Where a scan's scratch goes in the kernel memory, after the codes. */
interface Layout {
  chunks: number;
  mask: number;
  queries: number;
  allowed: number;
  state: number;
  hist: number;
  histInts: number;
  buf: number;
  cap: number;
  end: number;
}

const align16 = (x: number): number => Math.ceil(x / 16) * 16;

/**
 * One instance of the Hamming kernel with its own linear memory, owned by one {@link BinaryIndex}: the codes
 * live at offset 0 (no copy per search), a scan's scratch after them. `memory.grow` detaches every view of
 * the old buffer, so the owner re-creates its code view whenever {@link reserve} reports growth.
 */
export class HammingKernel {
  private readonly memory: WasmMemory;
  private readonly scan4: Scan;
  private readonly scan1: Scan;

  constructor(module: WasmModule) {
    const wasm = wasmApi();
    if (wasm === undefined) throw new Error('HammingKernel: no WebAssembly in this runtime');
    const instance = new wasm.Instance(module, {});
    this.memory = instance.exports.memory as WasmMemory;
    this.scan4 = instance.exports.scan4 as Scan;
    this.scan1 = instance.exports.scan1 as Scan;
  }

  get buffer(): ArrayBuffer {
    return this.memory.buffer;
  }

  /** Bytes of linear memory held (whole 64 KiB pages). */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Grow the memory to hold at least `bytes` (to the next page, not doubling: the codes are most of it).
   * True when it grew, which detaches every view of {@link buffer}.
   */
  reserve(bytes: number): boolean {
    const have = this.memory.buffer.byteLength;
    if (bytes <= have) return false;
    this.memory.grow(Math.ceil((bytes - have) / PAGE));
    return true;
  }

  /** Scratch of a scan of `n` rows of `rowBytes` for the `cands` nearest, after `codeBytes` of codes. */
  static layout(
    codeBytes: number,
    rowBytes: number,
    dim: number,
    n: number,
    cands: number,
    filtered: boolean,
  ): Layout {
    const chunks = Math.ceil(rowBytes / 16);
    const mask = align16(codeBytes + CODE_SLACK);
    const queries = mask + chunks * 16;
    const allowed = queries + 4 * chunks * 16;
    const state = align16(allowed + (filtered ? Math.ceil(n / 8) : 0));
    const hist = state + 4 * 32;
    const histInts = align16((dim + 1) * 4) / 4;
    const buf = hist + 4 * histInts * 4;
    // Room for K entries and as many again: each compaction then frees at least max(K, 256) slots.
    const cap = cands + Math.max(cands, 256);
    return { chunks, mask, queries, allowed, state, hist, histInts, buf, cap, end: buf + 4 * cap * 8 };
  }

  /**
   * The `cands` nearest rows by Hamming distance for each of `nq` queries (`queryBits`: `rowBytes` per query,
   * packed as the codes), equal distances: the earlier row; rows with `allowed[row] === 0` skipped. Calls
   * `emit(qi, row, distance)` for each, per query in row order. The memory must already hold
   * `layout.end` bytes (see {@link reserve}).
   */
  scan(
    n: number,
    rowBytes: number,
    dim: number,
    queryBits: Uint8Array,
    nq: number,
    cands: number,
    allowed: Uint8Array | null,
    lay: Layout,
    emit: (qi: number, row: number, distance: number) => void,
  ): void {
    const buffer = this.memory.buffer;
    const bytes = new Uint8Array(buffer);
    const ints = new Int32Array(buffer);
    const stride = lay.chunks * 16;
    bytes.fill(0, lay.mask, lay.mask + stride);
    bytes.fill(0xff, lay.mask, lay.mask + rowBytes);
    let allowedAt = -1;
    if (allowed !== null) {
      allowedAt = lay.allowed;
      bytes.fill(0, allowedAt, allowedAt + Math.ceil(n / 8));
      for (let r = 0; r < n; r++) if (allowed[r] !== 0) bytes[allowedAt + (r >> 3)] |= 1 << (r & 7);
    }
    for (let q0 = 0; q0 < nq;) {
      const group = nq - q0 >= 4 ? 4 : 1;
      for (let s = 0; s < group; s++) {
        const at = lay.queries + s * stride;
        bytes.fill(0, at, at + stride);
        bytes.set(queryBits.subarray((q0 + s) * rowBytes, (q0 + s + 1) * rowBytes), at);
        const st = (lay.state >> 2) + 8 * s;
        const hist = lay.hist + s * lay.histInts * 4;
        ints[st] = dim; // thr: every distance can enter
        ints[st + 1] = 0;
        ints[st + 2] = 0;
        ints[st + 3] = hist;
        ints[st + 4] = lay.buf + s * lay.cap * 8;
        ints.fill(0, hist >> 2, (hist >> 2) + dim + 1);
      }
      const run = group === 4 ? this.scan4 : this.scan1;
      run(n, rowBytes, lay.chunks, lay.queries, lay.mask, allowedAt, lay.state, cands, lay.cap);
      for (let s = 0; s < group; s++) {
        const st = (lay.state >> 2) + 8 * s;
        const count = ints[st + 2];
        const buf = ints[st + 4] >> 2;
        for (let i = 0; i < count; i++) emit(q0 + s, ints[buf + 2 * i], ints[buf + 2 * i + 1]);
      }
      q0 += group;
    }
  }
}
