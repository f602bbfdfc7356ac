/**
 * `GatherV2` for tfjs-backend-wasm. The stock kernel walks the output element by element through generic
 * strides (~100 ns per element here: 44 ms to gather 2,048 embedding rows of 384, against 0.1 ms to copy the
 * same bytes), and every embedding lookup goes through it. This one copies whole slices.
 */
import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../../errors.js';
import { heapOffset, type WasmBackend, type WasmKernelFunc } from './wasm-internals.js';
import type { TensorInfo } from '@tensorflow/tfjs';

type HeapArray = Float32Array | Int32Array | Uint8Array;

function heapArray(backend: WasmBackend, t: TensorInfo, size: number): HeapArray {
  const buffer = backend.wasm.HEAPU8.buffer;
  const offset = heapOffset(backend, t);
  if (t.dtype === 'float32') return new Float32Array(buffer, offset, size);
  if (t.dtype === 'int32') return new Int32Array(buffer, offset, size);
  return new Uint8Array(buffer, offset, size);
}

/** Wrap the stock wasm `GatherV2`; strings and non-int32 indices still go to the stock kernel. */
export function makeGather(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { backend } = args;
    const { x, indices } = args.inputs;
    if (!['float32', 'int32', 'bool'].includes(x.dtype) || indices.dtype !== 'int32') return original(args);
    const axis = tf.util.parseAxisParam(Number(args.attrs?.axis ?? 0), x.shape)[0];
    const batchDims = Number(args.attrs?.batchDims ?? 0);
    const axisDim = x.shape[axis];
    const indicesSize = indices.shape.reduce((p, d) => p * d, 1);
    const ids = new Int32Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, indices), indicesSize);
    for (let i = 0; i < indicesSize; i++) {
      const v = ids[i];
      if (!(v >= 0 && v < axisDim)) {
        throw new ArgumentError(
          'indices',
          `gather index ${v} (position ${i}) is not in [0, ${axisDim - 1}] for axis ${axis} of shape [${x.shape.join(', ')}]`,
        );
      }
    }
    const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
      x as tf.Tensor,
      indices as tf.Tensor,
      axis,
      batchDims,
    );
    const { batchSize, outerSize, dimSize, sliceSize, outputShape } = info;
    const perBatch = indicesSize / batchSize;
    const outSize = batchSize * outerSize * perBatch * sliceSize;
    const out = backend.makeOutput(outputShape, x.dtype);
    if (outSize === 0) return out;
    // Views after makeOutput: the allocation may have grown (and detached) the heap buffer.
    const src = heapArray(backend, x, batchSize * outerSize * dimSize * sliceSize);
    const dst = heapArray(backend, out, outSize);
    const idx = new Int32Array(backend.wasm.HEAPU8.buffer, heapOffset(backend, indices), indicesSize);
    let pos = 0;
    for (let b = 0; b < batchSize; b++) {
      for (let o = 0; o < outerSize; o++) {
        const base = (b * outerSize + o) * dimSize;
        for (let j = 0; j < perBatch; j++) {
          const from = (base + idx[b * perBatch + j]) * sliceSize;
          if (sliceSize >= 16) {
            dst.set(src.subarray(from, from + sliceSize), pos);
          } else {
            // A typed-array call costs more than a short loop.
            for (let e = 0; e < sliceSize; e++) dst[pos + e] = src[from + e];
          }
          pos += sliceSize;
        }
      }
    }
    return out;
  };
}
