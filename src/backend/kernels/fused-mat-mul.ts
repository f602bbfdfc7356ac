/**
 * `_FusedMatMul` (matmul + bias + activation, used by `tf.fused.matMul` and tf.layers) for
 * tfjs-backend-wasm, routed like our `BatchMatMul`: the stock kernel is fast only for untransposed batch-1
 * products.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { planMatMul, xnnBatchMatMul } from './batch-mat-mul.js';
import { swapLastTwo } from './transpose.js';
import { mayUseCachedPacking, wasmKernel, type WasmBackend, type WasmKernelFunc } from './wasm-internals.js';

/** Apply `bias` then `activation` to a fresh product `y` with stock wasm kernels; consumes `y`. */
function epilogue(
  backend: WasmBackend,
  y: TensorInfo,
  bias: TensorInfo | undefined,
  preluWeights: TensorInfo | undefined,
  activation: string,
  leakyreluAlpha: number,
): TensorInfo {
  let out = y;
  const step = (next: TensorInfo): void => {
    backend.disposeData(out.dataId);
    out = next;
  };
  if (bias !== undefined) step(wasmKernel('Add')({ inputs: { a: out, b: bias }, backend }));
  switch (activation) {
    case 'linear':
      break;
    case 'relu':
      step(wasmKernel('Relu')({ inputs: { x: out }, backend }));
      break;
    case 'relu6':
      step(wasmKernel('Relu6')({ inputs: { x: out }, backend }));
      break;
    case 'elu':
      step(wasmKernel('Elu')({ inputs: { x: out }, backend }));
      break;
    case 'sigmoid':
      step(wasmKernel('Sigmoid')({ inputs: { x: out }, backend }));
      break;
    case 'leakyrelu':
      step(wasmKernel('LeakyRelu')({ inputs: { x: out }, backend, attrs: { alpha: leakyreluAlpha } }));
      break;
    case 'prelu':
      if (preluWeights === undefined) throw new Error('_FusedMatMul: prelu activation without weights');
      step(wasmKernel('Prelu')({ inputs: { x: out, alpha: preluWeights }, backend }));
      break;
    default:
      backend.disposeData(out.dataId);
      throw new Error(`_FusedMatMul: ${activation} activation is not supported on wasm`);
  }
  return out;
}

/** Wrap the stock wasm `_FusedMatMul` so transposed and batched products go through XNNPACK. */
export function makeFusedMatMul(original: WasmKernelFunc): WasmKernelFunc {
  return (args) => {
    const { inputs, backend } = args;
    const { a, b } = inputs;
    const bias = inputs.bias ?? undefined;
    const prelu = inputs.preluActivationWeights ?? undefined;
    const transposeA = args.attrs?.transposeA === true;
    const transposeB = args.attrs?.transposeB === true;
    const activation = String(args.attrs?.activation ?? 'linear');
    const leakyreluAlpha = Number(args.attrs?.leakyreluAlpha ?? 0.2);
    const plan =
      a.dtype === 'float32' && b.dtype === 'float32'
        ? planMatMul(a.shape, b.shape, transposeA, transposeB)
        : undefined;
    if (plan === undefined) return original(args);
    const { m, k, n, batchA, batchB } = plan;
    // The stock kernel reads exactly n bias and prelu values per row: a bias of shape [1] adds to the first
    // column only (measured: [[8,3,3,3]] for ones([1,3]) @ ones([3,4]) + [5]). Anything else that must
    // broadcast goes through our product and the stock broadcasting Add/Prelu.
    const perColumn = (t: TensorInfo | undefined): boolean =>
      t === undefined || (t.shape.length === 1 && t.shape[0] === n);
    const stockCanFuse = perColumn(bias) && perColumn(prelu);
    if (!stockCanFuse) {
      const y = xnnBatchMatMul(backend, a, b, transposeA, transposeB, plan);
      return epilogue(backend, y, bias, prelu, activation, leakyreluAlpha);
    }
    if (!transposeA && !transposeB && batchA === 1 && batchB === 1) {
      if (mayUseCachedPacking(b, k, n)) return original(args);
      // b's id carries a packing for another shape: give the stock kernel a fresh copy.
      const copy = wasmKernel('Identity')({ inputs: { x: b }, backend });
      try {
        return original({ ...args, inputs: { ...inputs, b: copy } });
      } finally {
        backend.disposeData(copy.dataId);
      }
    }
    if (batchB === 1) {
      // Shared b: fold a's batches into rows and let the stock kernel fuse bias and activation on its fast
      // path. Row folding keeps the element order, so the per-column bias and prelu stay right.
      const temps: TensorInfo[] = [];
      try {
        const aU = transposeA ? swapLastTwo(backend, a, batchA, k, m) : a;
        if (aU !== a) temps.push(aU);
        let bU = transposeB ? swapLastTwo(backend, b, batchB, n, k) : b;
        if (bU !== b) temps.push(bU);
        if (!mayUseCachedPacking(bU, k, n)) {
          bU = wasmKernel('Identity')({ inputs: { x: bU }, backend });
          temps.push(bU);
        }
        const out = original({
          inputs: {
            ...inputs,
            a: { dataId: aU.dataId, shape: [1, plan.aIndex.length * m, k], dtype: 'float32' },
            b: { dataId: bU.dataId, shape: [1, k, n], dtype: 'float32' },
          },
          backend,
          attrs: { ...args.attrs, transposeA: false, transposeB: false },
        });
        out.shape = [...plan.outBatchShape, m, n];
        return out;
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    }
    const y = xnnBatchMatMul(backend, a, b, transposeA, transposeB, plan);
    return epilogue(backend, y, bias, prelu, activation, leakyreluAlpha);
  };
}
