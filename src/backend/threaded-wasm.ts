/**
 * Loader of tfjs-backend-wasm's **multi-threaded** SIMD build under Node.
 *
 * `@tensorflow/tfjs-backend-wasm` ships three binaries, and its own loader picks the threaded one only in
 * browsers: under Node its `WASM_HAS_MULTITHREAD_SUPPORT` flag is hard-wired to false (tfjs issue #3830),
 * because it hands Emscripten the pthread worker script and the main script as `Blob` URLs, which Node's
 * `worker_threads` cannot load. The Emscripten glue itself supports Node (`worker_threads`, shared
 * `WebAssembly.Memory`), so this module builds the same module with file paths instead: the worker script
 * written once to a file keyed by its content hash, and the glue's own file as the main script. XNNPACK then
 * spreads every matrix product over a pthreadpool (about 2x on two cores).
 *
 * Two more details of the C++ side: it caps the pool at `emscripten_num_logical_cores() / 2` (it assumes
 * two hyper-threads per core, so on a 2-vCPU machine it would allow one thread), and it reads that count
 * while the module starts. We report `threads * 2` logical cores for exactly that window.
 *
 * Every assumption about tfjs-backend-wasm 4.22's internals lives here and in `kernels/wasm-internals.ts`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import * as tf from '@tensorflow/tfjs';
import { BackendError } from '../errors.js';
import { parseInteger } from '../util/number.js';

const require_ = createRequire(import.meta.url);

/** The most threads the threaded build supports (its C++ side caps the pool at 8). */
export const MAX_WASM_THREADS = 8;

interface EmscriptenWorker {
  unref(): void;
}

/** The Emscripten module of the threaded build, as far as this loader uses it. */
interface ThreadedModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  PThread?: { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[] };
  tfjs?: Record<string, unknown>;
}

type ThreadedFactory = (config: Record<string, unknown>) => Promise<ThreadedModule>;

/** Number of wasm threads to use by default: one per core the process may use, at most 8. */
export function defaultWasmThreads(): number {
  const env = process.env.DENSE_RETRIEVAL_WASM_THREADS;
  if (env !== undefined && env !== '') return parseWasmThreads(env, 'DENSE_RETRIEVAL_WASM_THREADS');
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores));
}

/** Validate a thread count given as a string (environment variable or CLI flag). */
export function parseWasmThreads(value: string | number, name: string): number {
  // The shared strict grammar: Number() would read '0x4' as 4 and ' 4 ' as 4.
  const n = typeof value === 'number' ? value : parseInteger(value);
  if (n === undefined || !Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new BackendError(
      `${name} must be an integer from 1 to ${MAX_WASM_THREADS} (wasm threads), got ${JSON.stringify(value)}`,
    );
  }
  return n;
}

/** Whether this Node can run the threaded build at all (shared memory and wasm atomics). */
export function threadedWasmSupported(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false;
  // Typed by hand: this project compiles without the DOM/WebAssembly lib types.
  const wasm = (globalThis as { WebAssembly?: { Memory: new (d: object) => { buffer: unknown } } })
    .WebAssembly;
  if (wasm === undefined) return false;
  try {
    const memory = new wasm.Memory({ initial: 1, maximum: 1, shared: true });
    return memory.buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/**
 * Write the pthread worker script next to nothing else, in the OS temp directory, under a name derived from
 * its content (so every version of tfjs gets its own file and concurrent processes agree on it). Written to a
 * temporary name and renamed: a process that dies midway leaves no half-written script behind.
 */
function workerScriptFile(contents: string): string {
  const hash = createHash('sha256').update(contents).digest('hex').slice(0, 16);
  const dir = path.join(os.tmpdir(), 'dense-retrieval');
  const file = path.join(dir, `tfjs-wasm-pthread-worker-${hash}.cjs`);
  if (existsSync(file) && readFileSync(file, 'utf8') === contents) return file;
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, file);
  return file;
}

const POOL_SIZE_SOURCE = 'var pthreadPoolSize=8;';

/**
 * The glue's module factory, with its pool of pre-started pthread workers sized to `threads` instead of the
 * 8 it was compiled with: each worker costs ~130 ms of start-up and its own heap, and the pool only needs as
 * many workers as pthreadpool will start (`threads - 1`, plus one spare). Threads must come from that pool:
 * a worker started on demand would load asynchronously while the main thread blocks waiting for it. If the
 * glue does not contain the expected statement (another tfjs version), it is used unchanged.
 */
function loadFactory(gluePath: string, threads: number): ThreadedFactory {
  const source = readFileSync(gluePath, 'utf8');
  if (source.split(POOL_SIZE_SOURCE).length !== 2) return require_(gluePath) as ThreadedFactory;
  const patched = source.replace(POOL_SIZE_SOURCE, `var pthreadPoolSize=${Math.min(8, threads)};`);
  const wrapper = vm.runInThisContext(
    `(function (exports, require, module, __filename, __dirname) {${patched}\n})`,
    { filename: gluePath },
  ) as (e: object, r: NodeJS.Require, m: { exports: object }, f: string, d: string) => void;
  const module = { exports: {} as object };
  wrapper(module.exports, require_, module, gluePath, path.dirname(gluePath));
  return module.exports as ThreadedFactory;
}

/** Make Emscripten's `emscripten_num_logical_cores()` (Node: `os.cpus().length`) report `count`. */
function withLogicalCores<T>(count: number, run: () => Promise<T>): Promise<T> {
  const realCpus = os.cpus;
  const cpus = realCpus();
  const fake = Array.from({ length: count }, (_, i) => cpus[i % Math.max(1, cpus.length)]);
  (os as { cpus: () => os.CpuInfo[] }).cpus = () => fake;
  return run().finally(() => {
    (os as { cpus: () => os.CpuInfo[] }).cpus = realCpus;
  });
}

/**
 * Register the threaded build as tfjs's `wasm` backend (replacing the stock factory, which under Node would
 * load the single-threaded build). Must run before the `wasm` backend is first initialised; returns false,
 * changing nothing, when it already was (tensors on it would be lost) or the platform lacks wasm threads.
 */
export async function registerThreadedWasm(threads: number): Promise<boolean> {
  if (!threadedWasmSupported()) return false;
  if (tf.findBackend('wasm') !== null) return false;
  const wasmPkg = await import('@tensorflow/tfjs-backend-wasm');
  const pkgDir = path.dirname(require_.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const gluePath = path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const binaryPath = path.join(pkgDir, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm');
  const factory = loadFactory(gluePath, threads);
  const { wasmWorkerContents } = require_(
    path.join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js'),
  ) as { wasmWorkerContents: string };
  // tfjs escapes the newlines of the string literal the same way before making its Blob.
  const workerFile = workerScriptFile(wasmWorkerContents.replace(/\n/g, '\\n'));

  const create = async (): Promise<tf.KernelBackend> =>
    withLogicalCores(threads * 2, async () => {
      const module = await factory({
        locateFile: (file: string) => (file.endsWith('.worker.js') ? workerFile : binaryPath),
        mainScriptUrlOrBlob: gluePath,
      });
      // The same C entry points tfjs's own loader wraps (backend_wasm.js `init`).
      module.tfjs = {
        init: module.cwrap('init', null, []),
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: module.cwrap('get_threads_count', 'number', []),
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: module.cwrap('dispose_data', null, ['number']),
        dispose: module.cwrap('dispose', null, []),
      };
      wasmPkg.setThreadsCount(threads);
      const backend = new wasmPkg.BackendWasm(module as never);
      // A pool thread blocks in the worker between products; unref'd workers do not keep Node alive.
      for (const w of [...(module.PThread?.runningWorkers ?? []), ...(module.PThread?.unusedWorkers ?? [])]) {
        w.unref();
      }
      return backend;
    });

  const registry = (tf.engine() as unknown as { registryFactory: Record<string, RegisteredFactory> })
    .registryFactory;
  stockFactory = registry.wasm ?? stockFactory;
  tf.removeBackend('wasm');
  // Priority 2, as tfjs-backend-wasm registers itself.
  tf.registerBackend('wasm', create, 2);
  return true;
}

interface RegisteredFactory {
  factory: () => tf.KernelBackend | Promise<tf.KernelBackend>;
  priority: number;
}

let stockFactory: RegisteredFactory | undefined;

/**
 * Put tfjs-backend-wasm's own (single-threaded under Node) factory back, after the threaded build failed to
 * start. Returns false when there is nothing to restore.
 */
export function restoreStockWasm(): boolean {
  if (stockFactory === undefined) return false;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', stockFactory.factory, stockFactory.priority);
  return true;
}

/** Threads the initialised wasm backend runs XNNPACK on (1 for the single-threaded builds). */
export async function wasmThreadCount(): Promise<number> {
  const wasmPkg = await import('@tensorflow/tfjs-backend-wasm');
  return tf.findBackend('wasm') === null ? 0 : wasmPkg.getThreadsCount();
}
