/**
 * `Identity` for tfjs-backend-wasm that shares the input's memory instead of copying it, as the cpu backend's
 * `Identity` and the wasm `Reshape` do. tfjs calls `Identity` for `tf.clone`, and the gradient tape clones
 * every tensor it saves for the backward pass (`engine.clone`): with the stock copying kernel, training a
 * MiniLM-shaped BERT held a second copy of most activations (200 MB of `[512, 384]` copies for 512 tokens).
 *
 * Sharing is safe because no wasm kernel writes into its inputs (outputs are always fresh allocations;
 * `Variable.assign` swaps the data id instead of writing), the backend frees the memory only when the last
 * tensor referring to it is disposed (`incRef` here, `refCount` in `disposeData`), and a clone has the same
 * shape as its input, so the XNNPACK packing cached per C++ id (see `mayUseCachedPacking`) stays valid.
 * Strings keep the stock kernel (their bytes live outside the heap).
 */
import type { WasmKernelFunc } from './wasm-internals.js';

let copyDepth = 0;

/**
 * Run `fn` with `Identity` copying as the stock kernel does. Our `_FusedMatMul` calls `Identity` to get a
 * fresh C++ id for a weight whose id carries an XNNPACK packing of another shape; a shared-memory clone
 * would share that id (and the stale packing), so the registration wraps that kernel in this.
 */
export function withCopyingIdentity<T>(fn: () => T): T {
  copyDepth++;
  try {
    return fn();
  } finally {
    copyDepth--;
  }
}

export function makeIdentity(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { x } = args.inputs;
    if (x.dtype === 'string' || copyDepth > 0) return original(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}

/**
 * `Cast` for tfjs-backend-wasm that shares memory when the dtype does not change. The gradient of every
 * tape clone is a same-dtype `Cast` of the incoming gradient (tfjs-core `engine.clone`), which the stock
 * kernel copies; real conversions go to the stock kernel.
 */
export function makeCast(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { x } = args.inputs;
    if (args.attrs?.dtype !== x.dtype || x.dtype === 'string') return original(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  };
}
