/**
 * `UnsortedSegmentSum` for tfjs-backend-wasm, which ships without it. tfjs uses it as the gradient of
 * `gather` (every embedding table), so without it no model with an embedding can train on wasm.
 *
 * Written in TypeScript over the wasm heap rather than with stock ops: the cpu backend's version loops
 * `numSegments` times over equal/mul/sum (O(vocab × tokens × hidden)), while this is one pass over `x`.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { ArgumentError } from '../../errors.js';
import { heapF32, heapI32, heapOffset, type WasmKernelFunc } from './wasm-internals.js';

/**
 * `out[s, ...] = sum of x[i, ...] over i with segmentIds[i] == s`, for `s` in `[0, numSegments)`.
 * Negative ids are dropped (TensorFlow's semantics); ids `>= numSegments` are an error, as in TensorFlow,
 * rather than the silent drop of tfjs's cpu kernel.
 */
export const unsortedSegmentSum: WasmKernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs;
  const numSegments = Number(attrs?.numSegments);
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new ArgumentError(
      'numSegments',
      `must be a non-negative integer in unsortedSegmentSum, got ${String(attrs?.numSegments)}`,
    );
  }
  if (x.dtype !== 'float32' && x.dtype !== 'int32') {
    throw new ArgumentError('x', `must be float32 or int32 in unsortedSegmentSum on wasm, got ${x.dtype}`);
  }
  if (segmentIds.dtype !== 'int32') {
    throw new ArgumentError('segmentIds', `must be int32 in unsortedSegmentSum, got ${segmentIds.dtype}`);
  }
  const idsRank = segmentIds.shape.length;
  const idsSize = segmentIds.shape.reduce((p, d) => p * d, 1);
  if (idsRank > x.shape.length || segmentIds.shape.some((d, i) => d !== x.shape[i])) {
    throw new ArgumentError(
      'segmentIds',
      `shape [${segmentIds.shape.join(', ')}] must be a prefix of x shape [${x.shape.join(', ')}] in unsortedSegmentSum`,
    );
  }
  const innerShape = x.shape.slice(idsRank);
  const inner = innerShape.reduce((p, d) => p * d, 1);
  const out: TensorInfo = backend.makeOutput([numSegments, ...innerShape], x.dtype);
  // Views are taken after makeOutput: an allocation may grow (and so detach) the heap buffer.
  const ids = heapI32(backend, heapOffset(backend, segmentIds), idsSize);
  const xOff = heapOffset(backend, x);
  const outOff = heapOffset(backend, out);
  const xs =
    x.dtype === 'float32' ? heapF32(backend, xOff, idsSize * inner) : heapI32(backend, xOff, idsSize * inner);
  const os =
    x.dtype === 'float32'
      ? heapF32(backend, outOff, numSegments * inner)
      : heapI32(backend, outOff, numSegments * inner);
  os.fill(0);
  for (let i = 0; i < idsSize; i++) {
    const s = ids[i];
    if (s < 0) continue;
    if (s >= numSegments) {
      backend.disposeData(out.dataId);
      throw new ArgumentError(
        'segmentIds',
        `segmentIds[${i}] = ${s} is out of range [0, ${numSegments}) in unsortedSegmentSum`,
      );
    }
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) os[dst + j] += xs[src + j];
  }
  return out;
};
