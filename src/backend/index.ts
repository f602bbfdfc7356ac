import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { BackendError } from '../errors.js';
import { withHostListeners } from './host-listeners.js';
import { registerWasmKernels } from './kernels/index.js';
import {
  defaultWasmThreads,
  parseWasmThreads,
  registerThreadedWasm,
  restoreStockWasm,
} from './threaded-wasm.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';

/** Backends in the order {@link initBackend} tries them. */
export const BACKEND_ORDER = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number];

export interface InitBackendOptions {
  /**
   * Force one backend (`tensorflow-gpu` = `@tensorflow/tfjs-node-gpu`, `tensorflow` = `@tensorflow/tfjs-node`,
   * `wasm`, `cpu`). Defaults to `$DENSE_RETRIEVAL_BACKEND`, else the first of {@link BACKEND_ORDER} that loads.
   * A forced backend that cannot load is an error, never a silent fallback.
   */
  backend?: BackendName | 'auto';
  /**
   * Threads the wasm backend runs its matrix products on (XNNPACK's thread pool, tfjs-backend-wasm's
   * threaded SIMD build). Defaults to `$DENSE_RETRIEVAL_WASM_THREADS`, else one per core (at most 8). `1`
   * loads the single-threaded build. Only takes effect when the wasm backend is first initialised.
   */
  wasmThreads?: number;
}

const ALIASES: Record<string, BackendName> = {
  'tensorflow-gpu': 'tensorflow-gpu',
  'tfjs-node-gpu': 'tensorflow-gpu',
  gpu: 'tensorflow-gpu',
  tensorflow: 'tensorflow',
  'tfjs-node': 'tensorflow',
  node: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

const require_ = createRequire(import.meta.url);

/** Directory holding the wasm binaries of the installed `@tensorflow/tfjs-backend-wasm` (never the network). */
export function wasmBinaryDir(): string {
  const pkg = require_.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return path.join(path.dirname(pkg), 'dist') + path.sep;
}

/** The name the tfjs engine uses for a backend of ours. */
function engineName(name: BackendName): string {
  // tfjs-node and tfjs-node-gpu both register themselves as 'tensorflow'.
  return name === 'tensorflow-gpu' ? 'tensorflow' : name;
}

async function loadBackend(name: BackendName, wasmThreads: number): Promise<void> {
  let selected = false;
  switch (name) {
    case 'tensorflow-gpu':
      await import('@tensorflow/tfjs-node-gpu' as string);
      break;
    case 'tensorflow':
      await import('@tensorflow/tfjs-node' as string);
      break;
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      wasm.setWasmPaths(wasmBinaryDir());
      if (wasmThreads > 1) {
        // The threaded build may fail to start where the single-threaded one works (no writable temp
        // directory for its worker script, no worker threads): say so once and run on one thread.
        const fallBack = (reason: string): void => {
          restoreStockWasm();
          process.emitWarning(
            `the multi-threaded wasm build could not start (${reason}); running on one thread`,
            { code: 'DENSE_RETRIEVAL_WASM_THREADS' },
          );
        };
        try {
          if (await registerThreadedWasm(wasmThreads)) {
            selected = await tf.setBackend('wasm');
            if (!selected) fallBack('it failed to initialise');
          }
        } catch (error) {
          fallBack(error instanceof Error ? error.message.split('\n')[0] : String(error));
        }
        if (selected) break;
      }
      wasm.setThreadsCount(1);
      break;
    }
    case 'cpu':
      break;
  }
  const ok = selected || (await tf.setBackend(engineName(name)));
  if (!ok) throw new BackendError(`backend '${name}' registered but failed to initialise`);
  await tf.ready();
  if (name === 'wasm') registerWasmKernels();
  if (name === 'cpu') silenceCpuBanner();
}

/**
 * tfjs's cpu backend prints a "Hi, looks like you are running TensorFlow.js in Node.js ... install our node
 * backend" banner on the first tensor it stores (`MathBackendCPU.write`, guarded by the instance's
 * `firstUse`). Whoever chose the cpu backend chose it: mark this one instance as used, rather than setting a
 * global flag (`IS_TEST`, `PROD`) that would change tfjs's behaviour for the whole host process.
 */
function silenceCpuBanner(): void {
  const backend = tf.findBackend('cpu') as (tf.KernelBackend & { firstUse?: boolean }) | null;
  if (backend !== null && typeof backend.firstUse === 'boolean') backend.firstUse = false;
}

let current: BackendName | undefined;

const INITBACKENDOPTIONS_KEYS = optionKeys<InitBackendOptions>({
  backend: true,
  wasmThreads: true,
});

/** The backend chosen by the last {@link initBackend}, if any. */
export function currentBackend(): BackendName | undefined {
  return current;
}

/**
 * Select and initialise the tfjs backend: tfjs-node-gpu, tfjs-node, wasm, then cpu, the first that loads,
 * unless `options.backend` or `$DENSE_RETRIEVAL_BACKEND` forces one. Returns the chosen backend's name.
 *
 * @example
 * ```ts
 * import { initBackend } from 'dense-retrieval';
 * const backend = await initBackend(); // 'wasm' on a machine without tfjs-node
 * ```
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendName> {
  checkOptionKeys('initBackend', options, INITBACKENDOPTIONS_KEYS);
  // Validated up front: a bad thread count must be an error, not a silent fall-through to the cpu backend.
  const wasmThreads =
    options.wasmThreads === undefined
      ? defaultWasmThreads()
      : parseWasmThreads(options.wasmThreads, 'wasmThreads');
  const requested = options.backend ?? process.env.DENSE_RETRIEVAL_BACKEND ?? 'auto';
  if (requested !== 'auto' && requested !== '') {
    const name = ALIASES[requested];
    if (name === undefined) {
      throw new BackendError(
        `unknown backend '${requested}' (DENSE_RETRIEVAL_BACKEND or --backend); expected one of ${BACKEND_ORDER.join(', ')}`,
      );
    }
    try {
      await withHostListeners(() => loadBackend(name, wasmThreads));
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      const hint =
        name === 'tensorflow-gpu'
          ? ' (npm install @tensorflow/tfjs-node-gpu)'
          : name === 'tensorflow'
            ? ' (npm install @tensorflow/tfjs-node)'
            : '';
      throw new BackendError(`backend '${name}' was requested but cannot be loaded${hint}: ${reason}`);
    }
    current = name;
    return name;
  }
  for (const name of BACKEND_ORDER) {
    try {
      await withHostListeners(() => loadBackend(name, wasmThreads));
      current = name;
      return name;
    } catch {
      // Optional backends are expected to be missing; try the next one.
    }
  }
  throw new BackendError('no tfjs backend could be initialised');
}

let pending: Promise<unknown> | undefined;

/**
 * Make sure a tfjs backend is initialised before tensors are made: if neither {@link initBackend} nor the
 * host (with `tf.setBackend`) chose one yet, run `initBackend()` with its defaults. Without this, forgetting
 * `initBackend()` would silently run everything on tfjs's pure-JavaScript cpu backend (about 5x slower than
 * wasm) behind tfjs's "install tfjs-node" banner. Every public entry point that runs tensors awaits it;
 * a host that picked a backend itself keeps it.
 *
 * @example
 * ```ts
 * import { ensureBackend } from 'dense-retrieval';
 * await ensureBackend(); // no-op after initBackend()
 * ```
 */
export async function ensureBackend(): Promise<void> {
  if (current !== undefined || backendChosenByHost()) return;
  pending ??= initBackend().finally(() => {
    pending = undefined;
  });
  await pending;
}

/** Whether tfjs already has an active backend (set by the host), read without making tfjs pick one. */
function backendChosenByHost(): boolean {
  return (tf.engine() as unknown as { backendName: string | null }).backendName != null;
}

/**
 * The synchronous counterpart of {@link ensureBackend}, for entry points that cannot await: a clear error
 * instead of tensors made on whatever backend tfjs would pick by itself (its slow cpu one).
 *
 * @throws {BackendError} when no backend was initialised yet.
 */
export function requireBackend(caller: string): void {
  if (current !== undefined || backendChosenByHost()) return;
  throw new BackendError(
    `${caller} needs a tfjs backend: call 'await initBackend()' (or any async entry point such as loadModel) first`,
  );
}
