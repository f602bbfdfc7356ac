/**
 * `Transpose` for tfjs-backend-wasm that makes permutations which move no data (identity once size-1
 * dimensions are ignored) free: the output shares the input's memory, as the stock `Reshape` does, instead of
 * the stock kernel's full copy. The gradient of every embedding `gather` ends with such a transpose of the
 * whole `[vocab, hidden]` table gradient. Real permutations still go to the stock kernel.
 */
import type { WasmKernelFunc } from './wasm-internals.js';

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
    if (!Array.isArray(perm) || perm.length !== x.shape.length || !movesNoData(x.shape, perm))
      return original(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: perm.map((axis) => x.shape[axis]), dtype: x.dtype };
  };
}
