/**
 * Kernels dense-retrieval registers on the wasm backend: fast paths for transposed and batched matmuls,
 * row-copying gather and tile, data-free transposes, clones and same-dtype casts (`Identity`, `Cast`), sums over leading axes, and the gradient kernel tfjs-backend-wasm lacks
 * (`UnsortedSegmentSum`). Registration is idempotent and reversible. See docs/wasm-kernels.md.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig } from '@tensorflow/tfjs';
import { makeBatchMatMul } from './batch-mat-mul.js';
import { makeFusedMatMul } from './fused-mat-mul.js';
import { makeGather } from './gather.js';
import { makeCast, makeIdentity, withCopyingIdentity } from './identity.js';
import { makeSum } from './sum.js';
import { makeTile } from './tile.js';
import { makeTranspose } from './transpose.js';
import { unsortedSegmentSum } from './unsorted-segment-sum.js';
import { BackendError } from '../../errors.js';
import { asKernelFunc, isWasmBackend, type WasmKernelFunc } from './wasm-internals.js';

/** Stock configs we replaced, keyed by kernel name, so {@link unregisterWasmKernels} can restore them. */
const replaced = new Map<string, KernelConfig | undefined>();

function install(kernelName: string, make: (original: WasmKernelFunc | undefined) => WasmKernelFunc): void {
  if (replaced.has(kernelName)) return;
  const original = tf.getKernel(kernelName, 'wasm');
  const kernelFunc = asKernelFunc(make(original?.kernelFunc as unknown as WasmKernelFunc | undefined));
  if (original !== undefined) tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    kernelName,
    backendName: 'wasm',
    // Keep the stock setup: if the backend is ever re-initialised it must re-bind the stock kernel we call.
    setupFunc: original?.setupFunc,
    kernelFunc,
  });
  replaced.set(kernelName, original);
}

/**
 * Register our wasm kernels (called by `initBackend` when it selects wasm). Safe to call more than once.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { registerWasmKernels } from 'dense-retrieval';
 * await tf.setBackend('wasm');
 * registerWasmKernels(); // transposed/batched matMul through XNNPACK, UnsortedSegmentSum available
 * ```
 */
export function registerWasmKernels(): void {
  const backend = tf.findBackend('wasm');
  if (backend !== null && !isWasmBackend(backend)) {
    // Our kernels read the backend's private tensor table and call its C entry points directly.
    throw new BackendError(
      `the installed @tensorflow/tfjs-backend-wasm does not expose the internals dense-retrieval's wasm kernels use (written for 4.22)`,
    );
  }
  install('BatchMatMul', (original) => {
    if (original === undefined) throw new Error('the wasm backend has no BatchMatMul kernel');
    return makeBatchMatMul(original);
  });
  install('_FusedMatMul', (original) => {
    if (original === undefined) throw new Error('the wasm backend has no _FusedMatMul kernel');
    const fused = makeFusedMatMul(original);
    // It clones a weight through `Identity` to get a fresh C++ id; ours would share the id (identity.ts).
    return (args) => withCopyingIdentity(() => fused(args));
  });
  install('GatherV2', (original) => {
    if (original === undefined) throw new Error('the wasm backend has no GatherV2 kernel');
    return makeGather(original);
  });
  install('Transpose', (original) => {
    if (original === undefined) throw new Error('the wasm backend has no Transpose kernel');
    return makeTranspose(original);
  });
  install('Sum', (original) => {
    if (original === undefined) throw new Error('the wasm backend has no Sum kernel');
    return makeSum(original);
  });
  install('Tile', (original) => {
    if (original === undefined) throw new Error('the wasm backend has no Tile kernel');
    return makeTile(original);
  });
  install('Identity', (original) => {
    if (original === undefined) throw new Error('the wasm backend has no Identity kernel');
    return makeIdentity(original);
  });
  install('Cast', (original) => {
    if (original === undefined) throw new Error('the wasm backend has no Cast kernel');
    return makeCast(original);
  });
  install('UnsortedSegmentSum', (original) => original ?? unsortedSegmentSum);
}

/**
 * Put the stock wasm kernels back, all or the named ones (for before/after benchmarks and parity tests
 * against the stock kernels). Kernels wasm lacks (`UnsortedSegmentSum`) are then simply absent again.
 *
 * @example
 * ```ts
 * unregisterWasmKernels(['BatchMatMul']); // stock tfjs-backend-wasm matMul
 * registerWasmKernels(); // ours again
 * ```
 */
export function unregisterWasmKernels(kernelNames?: readonly string[]): void {
  for (const [kernelName, original] of [...replaced]) {
    if (kernelNames !== undefined && !kernelNames.includes(kernelName)) continue;
    tf.unregisterKernel(kernelName, 'wasm');
    if (original !== undefined) tf.registerKernel(original);
    replaced.delete(kernelName);
  }
}

/**
 * Names of the wasm kernels of ours that are currently registered.
 *
 * @example
 * ```ts
 * await initBackend({ backend: 'wasm' });
 * registeredWasmKernels(); // ['BatchMatMul', '_FusedMatMul', 'GatherV2', 'Transpose', 'Sum', 'Tile', 'Identity', 'Cast', 'UnsortedSegmentSum']
 * ```
 */
export function registeredWasmKernels(): string[] {
  return [...replaced.keys()];
}
