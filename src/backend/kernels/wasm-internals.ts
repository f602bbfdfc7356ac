/**
 * Typed access to the internals of `@tensorflow/tfjs-backend-wasm` 4.22 that our kernels need: the tensor
 * table (`dataIdMap`), the wasm heap, the exported C entry points and the original kernels we wrap. The
 * package exposes none of this as public API, so every assumption about it lives in this one module.
 */
import * as tf from '@tensorflow/tfjs';
import type { DataId, DataType, KernelBackend, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';

/** One entry of the wasm backend's tensor table. */
export interface WasmTensorData {
  id: number;
  memoryOffset: number;
  shape: number[];
  dtype: DataType;
  refCount: number;
}

/** The Emscripten module of tfjs-backend-wasm, as far as we use it. */
export interface WasmModule {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  /** `BatchMatMul(a_id, a_shape*, a_rank, b_id, b_shape*, b_rank, transpose_a, transpose_b, out_id)`. */
  _BatchMatMul(
    aId: number,
    aShape: number,
    aRank: number,
    bId: number,
    bShape: number,
    bRank: number,
    transposeA: number,
    transposeB: number,
    outId: number,
  ): void;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

/** `BackendWasm` as far as we use it. */
export interface WasmBackend extends KernelBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: DataId): WasmTensorData };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: DataType, memoryOffset?: number, values?: Uint8Array[]): TensorInfo;
  disposeData(dataId: DataId, force?: boolean): boolean;
  incRef(dataId: DataId): void;
}

/** A kernel function with the argument shape tfjs passes to wasm kernels. */
export type WasmKernelFunc = (args: {
  inputs: Record<string, TensorInfo>;
  backend: WasmBackend;
  attrs?: NamedAttrMap;
}) => TensorInfo;

/** The currently registered wasm kernel function for `kernelName` (throws when wasm lacks it). */
export function wasmKernel(kernelName: string): WasmKernelFunc {
  const config = tf.getKernel(kernelName, 'wasm');
  if (config === undefined) throw new Error(`the wasm backend has no ${kernelName} kernel`);
  return config.kernelFunc as unknown as WasmKernelFunc;
}

/** Cast a generic kernel function to the shape tfjs registers. */
export function asKernelFunc(fn: WasmKernelFunc): KernelFunc {
  return fn as unknown as KernelFunc;
}

/** Byte offset of a tensor's data in the wasm heap. */
export function heapOffset(backend: WasmBackend, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** Id of a tensor in the C++ tensor table. */
export function wasmId(backend: WasmBackend, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).id;
}

/** A float32 view (no copy) of `size` floats at byte `offset` of the heap; re-take after any allocation. */
export function heapF32(backend: WasmBackend, offset: number, size: number): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer, offset, size);
}

/** An int32 view (no copy) of `size` ints at byte `offset` of the heap; re-take after any allocation. */
export function heapI32(backend: WasmBackend, offset: number, size: number): Int32Array {
  return new Int32Array(backend.wasm.HEAPU8.buffer, offset, size);
}

/**
 * Register `size` floats at byte `offset` (inside an existing tensor) as a new C++ tensor id, so a C kernel
 * can read or write a slice without a copy. Release with {@link releaseView}, which must not free memory:
 * the C side's `dispose_data` only drops the table entry and the XNNPACK operators cached for the id, while
 * the JS side owns (and frees) the allocation.
 */
export function registerView(backend: WasmBackend, offset: number, size: number): number {
  const id = backend.dataIdNextNumber++;
  backend.wasm.tfjs.registerTensor(id, size, offset);
  return id;
}

/** Drop a view made by {@link registerView}. */
export function releaseView(backend: WasmBackend, id: number): void {
  backend.wasm.tfjs.disposeData(id);
}

const shapeScratch = new WeakMap<WasmModule, number>();

/**
 * Run XNNPACK's fully-connected product `out[m, n] = a[m, k] @ b[k, n]` on three C++ tensor ids (whole
 * tensors or views). This is the only case tfjs-backend-wasm sends to XNNPACK: untransposed, batch 1.
 * XNNPACK caches the packed `b` per id, so passing a long-lived weight's own id keeps that cache warm.
 */
export function xnnMatMul(
  backend: WasmBackend,
  aId: number,
  bId: number,
  outId: number,
  m: number,
  k: number,
  n: number,
): void {
  const wasm = backend.wasm;
  let scratch = shapeScratch.get(wasm);
  if (scratch === undefined) {
    // Two rank-3 shapes, kept for the module's lifetime; the C entry point reads them as size_t[3].
    scratch = wasm._malloc(24);
    shapeScratch.set(wasm, scratch);
  }
  const shapes = heapI32(backend, scratch, 6);
  shapes[0] = 1;
  shapes[1] = m;
  shapes[2] = k;
  shapes[3] = 1;
  shapes[4] = k;
  shapes[5] = n;
  wasm._BatchMatMul(aId, scratch, 3, bId, scratch + 12, 3, 0, 0, outId);
}

const packedAs = new WeakMap<DataId, string>();

/**
 * Whether `b` may be passed under its own C++ id as a `[k, n]` right-hand operand. XNNPACK caches the packed
 * operand per id whatever shape it is used with, and tensors that share memory (`reshape`, our data-free
 * `Transpose`) share the id: the stock kernels silently reuse a `[2, 3]` packing for the same data reshaped
 * to `[3, 2]`. The first shape an id is used with wins; any other must go through a fresh id (a view or a
 * copy). Keyed by the `dataId` object, so entries die with their tensors.
 */
export function mayUseCachedPacking(b: TensorInfo, k: number, n: number): boolean {
  const key = `${k}x${n}`;
  const seen = packedAs.get(b.dataId);
  if (seen === undefined) {
    packedAs.set(b.dataId, key);
    return true;
  }
  return seen === key;
}

/** Whether `backend` looks like tfjs-backend-wasm 4.x (guards against an incompatible upgrade). */
export function isWasmBackend(backend: unknown): backend is WasmBackend {
  const b = backend as Partial<WasmBackend> | undefined;
  return (
    b !== undefined &&
    typeof b.wasm === 'object' &&
    typeof b.wasm._BatchMatMul === 'function' &&
    typeof b.wasm.tfjs?.registerTensor === 'function' &&
    typeof b.dataIdNextNumber === 'number'
  );
}
