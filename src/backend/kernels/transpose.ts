/**
 * `Transpose` for tfjs-backend-wasm that makes permutations which move no data (identity once size-1
 * dimensions are ignored) free: the output shares the input's memory, as the stock `Reshape` does, instead of
 * the stock kernel's full copy. The gradient of every embedding `gather` ends with such a transpose of the
 * whole `[vocab, hidden]` table gradient. Float32 swaps of the last two axes (matrix transposes, the most common
 * real permutation in a backward pass) run {@link swapLastTwo}; other permutations go to the stock kernel.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { heapF32, heapOffset, type WasmBackend, type WasmKernelFunc } from './wasm-internals.js';

/** Tile edge of the blocked transpose: 64 x 64 floats (16 KiB) of source stay in L1 while a tile is read. */
const TILE = 64;

/**
 * `out[b, j, i] = x[b, i, j]` for float32 `x: [batch, rows, cols]` (a new tensor), in JavaScript on the wasm heap. The stock
 * kernel walks the output with one index computation per element and writes with a stride of `rows`; this
 * loop writes each output row sequentially and reads the source in 64 x 64 tiles. Measured on the threaded
 * build's shared heap: `[4096, 1536]` 46 -> 14 ms, `[4096, 384]` 12 -> 5 ms. The backward pass of every dense
 * layer transposes its input activations for the weight gradient, so this is ~1 s of a MiniLM-sized step.
 */
export function swapLastTwo(
  backend: WasmBackend,
  x: TensorInfo,
  batch: number,
  rows: number,
  cols: number,
): TensorInfo {
  const out = backend.makeOutput([batch, cols, rows], 'float32');
  // Views after makeOutput: the allocation may have grown (and replaced) the heap buffer.
  const size = batch * rows * cols;
  const src = heapF32(backend, heapOffset(backend, x), size);
  const dst = heapF32(backend, heapOffset(backend, out), size);
  for (let b = 0, base = 0; b < batch; b++, base += rows * cols) {
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r0 = 0; r0 < rows; r0 += TILE) {
        const r1 = Math.min(rows, r0 + TILE);
        for (let c = c0; c < c1; c++) {
          let d = base + c * rows + r0;
          let s = base + r0 * cols + c;
          for (let r = r0; r < r1; r++, d++, s += cols) dst[d] = src[s];
        }
      }
    }
  }
  return out;
}

/** Whether `perm` swaps the last two axes and keeps the others in place. */
function swapsLastTwo(perm: readonly number[]): boolean {
  const n = perm.length;
  return (
    n >= 2 && perm[n - 1] === n - 2 && perm[n - 2] === n - 1 && perm.slice(0, -2).every((p, i) => p === i)
  );
}

/** Whether `perm` keeps the order of all dimensions of `shape` longer than 1. */
export function movesNoData(shape: readonly number[], perm: readonly number[]): boolean {
  let last = -1;
  for (const axis of perm) {
    if (shape[axis] === 1) continue;
    if (axis < last) return false;
    last = axis;
  }
  return true;
}

export function makeTranspose(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { x } = args.inputs;
    const perm = args.attrs?.perm as number[] | undefined;
    if (!Array.isArray(perm) || perm.length !== x.shape.length) return original(args);
    if (!movesNoData(x.shape, perm)) {
      if (x.dtype !== 'float32' || !swapsLastTwo(perm)) return original(args);
      const n = x.shape.length;
      const batch = x.shape.slice(0, -2).reduce((p, d) => p * d, 1);
      const t = swapLastTwo(args.backend, x, batch, x.shape[n - 2], x.shape[n - 1]);
      return { dataId: t.dataId, shape: perm.map((axis) => x.shape[axis]), dtype: 'float32' };
    }
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: perm.map((axis) => x.shape[axis]), dtype: x.dtype };
  };
}
