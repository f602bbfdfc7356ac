/**
 * `Tile` for tfjs-backend-wasm. The stock kernel computes every output element's source index on its own
 * (~100 ns per element here: 47 ms to tile a [64, 384] table 16 times), and `tf.where` with broadcasting,
 * `tf.broadcastTo` and `tf.tile` all go through it. This one copies whole rows: each output row of the last
 * dimension is one input row written once and then doubled with `copyWithin`, so the cost is a memcpy.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { heapOffset, type WasmBackend, type WasmKernelFunc } from './wasm-internals.js';

type HeapArray = Float32Array | Int32Array | Uint8Array;

function heapArray(backend: WasmBackend, t: TensorInfo, size: number): HeapArray | undefined {
  const buffer = backend.wasm.HEAPU8.buffer;
  const offset = heapOffset(backend, t);
  switch (t.dtype) {
    case 'float32':
      return new Float32Array(buffer, offset, size);
    case 'int32':
      return new Int32Array(buffer, offset, size);
    case 'bool':
      return new Uint8Array(buffer, offset, size);
    default:
      return undefined;
  }
}

/** Source element of every output element of tiling `shape` by `reps`, in output order. */
function sourceIndices(shape: readonly number[], reps: readonly number[]): number[] {
  const outShape = shape.map((d, i) => d * reps[i]);
  const size = outShape.reduce((p, d) => p * d, 1);
  const result = new Array<number>(size);
  const index = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < size; i++) {
    let from = 0;
    for (let d = 0; d < shape.length; d++) from = from * shape[d] + (index[d] % shape[d]);
    result[i] = from;
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return result;
}

/**
 * Wrap the stock wasm `Tile`; malformed `reps` still go to the stock kernel. Strings are tiled here too:
 * the stock kernel aborts the wasm module on them.
 */
export function makeTile(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { backend } = args;
    const { x } = args.inputs;
    const reps = args.attrs?.reps as number[] | undefined;
    const rank = x.shape.length;
    if (
      !Array.isArray(reps) ||
      reps.length !== rank ||
      rank === 0 ||
      !reps.every((r) => Number.isInteger(r) && r >= 0)
    ) {
      return original(args);
    }
    const outShape = x.shape.map((d, i) => d * reps[i]);
    if (x.dtype === 'string') {
      const strings = backend.readSync(x.dataId) as Uint8Array[];
      const values = sourceIndices(x.shape, reps).map((i) => strings[i]);
      return backend.makeOutput(outShape, 'string', undefined, values);
    }
    if (!['float32', 'int32', 'bool'].includes(x.dtype)) return original(args);
    const outSize = outShape.reduce((p, d) => p * d, 1);
    const out = backend.makeOutput(outShape, x.dtype);
    if (outSize === 0) return out;
    const inSize = x.shape.reduce((p, d) => p * d, 1);
    // Views after makeOutput: the allocation may have grown (and detached) the heap buffer.
    const src = heapArray(backend, x, inSize) as HeapArray;
    const dst = heapArray(backend, out, outSize) as HeapArray;
    const rowLen = x.shape[rank - 1];
    const outRowLen = outShape[rank - 1];
    // Input strides of the outer (all but last) dims, in elements.
    const inStride = new Array<number>(rank).fill(rowLen);
    for (let d = rank - 3; d >= 0; d--) inStride[d] = inStride[d + 1] * x.shape[d + 1];
    const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    const rows = outSize / outRowLen;
    for (let row = 0, pos = 0; row < rows; row++, pos += outRowLen) {
      let from = 0;
      for (let d = 0; d < rank - 1; d++) from += (index[d] % x.shape[d]) * inStride[d];
      dst.set(src.subarray(from, from + rowLen), pos);
      for (let filled = rowLen; filled < outRowLen; filled *= 2) {
        dst.copyWithin(pos + filled, pos, pos + Math.min(filled, outRowLen - filled));
      }
      for (let d = rank - 2; d >= 0; d--) {
        if (++index[d] < outShape[d]) break;
        index[d] = 0;
      }
    }
    return out;
  };
}
