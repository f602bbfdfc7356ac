/**
 * `Sum` over leading axes for tfjs-backend-wasm. The stock kernel reduces only along the innermost axis and
 * transposes first otherwise, so the bias gradient of every dense layer (a sum of `dy` over its rows) costs
 * a full transpose plus a strided reduction (~2-5 ms for [1024, 384] here). Summing rows into an
 * accumulator is one sequential pass. Other reductions still go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { heapF32, heapOffset, type WasmKernelFunc } from './wasm-internals.js';

export function makeSum(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { backend } = args;
    const { x } = args.inputs;
    const rank = x.shape.length;
    if (x.dtype !== 'float32' || rank < 2) return original(args);
    const axisAttr = args.attrs?.axis as number | number[] | undefined;
    const axes = [...new Set(tf.util.parseAxisParam(axisAttr ?? [], x.shape))].sort((p, q) => p - q);
    const r = axes.length;
    // Only a strict leading prefix of the axes, and something left to keep.
    if (r === 0 || r === rank || !axes.every((axis, i) => axis === i)) return original(args);
    const rows = x.shape.slice(0, r).reduce((p, d) => p * d, 1);
    const inner = x.shape.slice(r).reduce((p, d) => p * d, 1);
    if (rows <= 1 || inner === 0) return original(args);
    const keepDims = args.attrs?.keepDims === true;
    const outShape = keepDims ? x.shape.map((d, i) => (i < r ? 1 : d)) : x.shape.slice(r);
    const out = backend.makeOutput(outShape, 'float32');
    // Views after makeOutput: the allocation may have grown (and detached) the heap buffer.
    const src = heapF32(backend, heapOffset(backend, x), rows * inner);
    const dst = heapF32(backend, heapOffset(backend, out), inner);
    // A float64 accumulator: summing thousands of rows in float32 would lose digits the cpu backend keeps.
    const acc = new Float64Array(inner);
    // Four rows per pass over the accumulator: a quarter of the accumulator traffic, ~2x faster. Still all in
    // float64; the changed order of additions moves the result by float64 rounding only, far below float32.
    let row = 0;
    let base = 0;
    for (; row + 4 <= rows; row += 4, base += 4 * inner) {
      const b1 = base + inner;
      const b2 = b1 + inner;
      const b3 = b2 + inner;
      for (let j = 0; j < inner; j++) acc[j] += src[base + j] + src[b1 + j] + (src[b2 + j] + src[b3 + j]);
    }
    for (; row < rows; row++, base += inner) {
      for (let j = 0; j < inner; j++) acc[j] += src[base + j];
    }
    dst.set(acc);
    return out;
  };
}
