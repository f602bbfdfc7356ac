import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { currentBackend } from '../backend/index.js';
import { defaultWasmThreads } from '../backend/threaded-wasm.js';
import type { BackendName } from '../backend/index.js';
import { loadTokenizerFor, SCRATCH_PREFIX } from './load.js';
import { resolveModelSource } from '../checkpoint/hub.js';
import { readSentenceTransformersLayout } from '../checkpoint/sentence-transformers.js';
import { ArgumentError, BackendError, DenseRetrievalError, InputFormatError } from '../errors.js';
import type { TextTokenizer } from '../tokenize/tokenizer.js';
import type { Matrix } from '../types.js';
import { createProgress } from '../util/progress.js';
import type { FromWorker, ToWorker, WorkerInit } from './parallel-encode-worker.js';
import { architectureFor, parseEncoderConfig } from './architectures/registry.js';
import { removeStaleTemps } from '../util/atomic.js';
import { assertFiniteRows, SentenceEncoder } from './sentence-encoder.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { defaultEngine } from '../engines/select.js';
import { isEngineChoice, ENGINE_CHOICES } from '../engines/types.js';
import type { EngineChoice } from '../engines/types.js';

const PARALLELENCODEOPTIONS_KEYS = optionKeys<ParallelEncodeOptions>({
  workers: true,
  batchSize: true,
  maxLength: true,
  progress: true,
  quiet: true,
  backend: true,
  engine: true,
});

/** Options of {@link encodeParallel}. */
export interface ParallelEncodeOptions {
  /** Worker threads, each with its own tfjs instance; default `os.availableParallelism()`. */
  workers?: number;
  /** Texts per forward pass; default 32, as {@link SentenceEncoder.encode}. */
  batchSize?: number;
  /** Truncate texts to this many tokens instead of the model's `maxSeqLength`. */
  maxLength?: number;
  /** Draw a progress bar (on a TTY only); default true. */
  progress?: boolean;
  /** Print nothing (overrides `progress`). */
  quiet?: boolean;
  /**
   * Backend of the workers; default the one {@link initBackend} chose in this thread, else the same
   * automatic choice (`$DENSE_RETRIEVAL_BACKEND`, then tfjs-node, wasm, cpu).
   */
  backend?: BackendName | 'auto';
  /**
   * Engine of the workers (see {@link EncodeOptions.engine}); default `$DENSE_RETRIEVAL_ENGINE`, else
   * `auto`. ONNX Runtime workers share the cores between their sessions' intra-op threads. ONNX Runtime
   * already spreads one session over every core: on the 2-core development machine one session beat two
   * workers (docs/performance.md, "ONNX Runtime engine"), so `encode` uses workers only when asked.
   */
  engine?: EngineChoice;
}

interface Prepared {
  modelDir: string;
  tokenizer: TextTokenizer;
  maxSeqLength: number;
  maxPositions: number;
  dim: number;
  cleanup: () => Promise<void>;
}

async function readConfig(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (error) {
    throw new InputFormatError(`cannot read config.json (${(error as Error).message})`, file);
  }
}

async function prepare(source: string | SentenceEncoder, quiet: boolean): Promise<Prepared> {
  if (source instanceof SentenceEncoder) {
    // Workers cannot share tensors with this thread: they load the model from disk like any other model.
    // The pid in the name lets a later run remove what a killed one left (a whole model copy).
    await removeStaleTemps(os.tmpdir(), /^dr-parallel-encode-(?<pid>\d+)-\w{6}$/);
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), `dr-parallel-encode-${process.pid}-`));
    const modelDir = path.join(tmp, 'model');
    try {
      await source.save(modelDir);
    } catch (error) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw error;
    }
    return {
      modelDir,
      tokenizer: source.tokenizer,
      maxSeqLength: source.maxSeqLength,
      maxPositions: source.model.maxSequenceLength,
      dim: source.dim,
      cleanup: () => fs.rm(tmp, { recursive: true, force: true }),
    };
  }
  if (typeof source !== 'string') {
    throw new ArgumentError('source', 'expected a model directory, a hub id or a SentenceEncoder');
  }
  if (source.startsWith(SCRATCH_PREFIX)) {
    throw new ArgumentError(
      'source',
      `'${source}' would be a different random model in every worker; create it once with ` +
        'SentenceEncoder.fromScratch and pass the encoder (or save it and pass the directory)',
    );
  }
  const modelDir = await resolveModelSource(source, { quiet });
  const { tokenizer, maxSeqLength } = await loadTokenizerFor(modelDir);
  const layout = await readSentenceTransformersLayout(modelDir);
  const configFile = path.join(layout?.transformerDir ?? modelDir, 'config.json');
  const config = parseEncoderConfig(await readConfig(configFile), configFile);
  return {
    modelDir,
    tokenizer,
    maxSeqLength,
    maxPositions: architectureFor(config.model_type).maxSequenceLength(config),
    dim: config.hidden_size,
    cleanup: async () => undefined,
  };
}

/**
 * How to start the worker entry next to this module: the compiled `.js` in a build (tsup emits it as its
 * own entry), else the `.ts` source when running from source. Node's `--import tsx` does not reach into
 * worker threads, so a source worker first registers tsx's ESM loader itself, then imports the entry.
 */
function workerEntry(): { script: URL | string; eval: boolean } {
  const js = new URL('./parallel-encode-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { script: js, eval: false };
  const ts = new URL('./parallel-encode-worker.ts', import.meta.url);
  if (existsSync(fileURLToPath(ts))) {
    let api: string;
    try {
      api = import.meta.resolve('tsx/esm/api');
    } catch {
      throw new BackendError('running from TypeScript sources needs tsx to start encode workers');
    }
    const code = `import { register } from ${JSON.stringify(api)}; register(); await import(${JSON.stringify(ts.href)});`;
    return { script: new URL(`data:text/javascript,${encodeURIComponent(code)}`), eval: false };
  }
  throw new BackendError(`worker entry not found next to ${fileURLToPath(import.meta.url)}`);
}

/**
 * Encode a corpus on several worker threads, one tfjs instance (and one model copy) per worker. Texts are
 * sorted by token length and cut into the very batches {@link SentenceEncoder.encode} would make, which
 * workers take in turn (longest first, so no worker is left with the slow tail); the rows come back in
 * input order, equal to the single-threaded `encode`. Worth it on the wasm and cpu backends: wasm spreads
 * only its matrix products over threads (the workers share the cores between their thread pools), cpu uses
 * one core; tfjs-node already uses every core.
 *
 * `source` is a model directory or hub id (as {@link loadModel} takes), or an in-memory
 * {@link SentenceEncoder}, which is saved to a temporary directory for the workers to load. The vectors
 * have the model's full width: a saved `truncate_dim` is not applied (cut them with `truncateEmbeddings`).
 *
 * @example
 * ```ts
 * import { encodeParallel, initBackend } from 'dense-retrieval';
 *
 * await initBackend();
 * const m = await encodeParallel('models/my-retriever', passages, { workers: 2, batchSize: 32 });
 * // m.rows === passages.length, m.cols === the model's hidden size
 * ```
 */
export async function encodeParallel(
  source: string | SentenceEncoder,
  texts: string[],
  options: ParallelEncodeOptions = {},
): Promise<Matrix> {
  checkOptionKeys('encodeParallel', options, PARALLELENCODEOPTIONS_KEYS);
  if (!Array.isArray(texts)) throw new ArgumentError('texts', 'expected an array of strings');
  const bad = texts.findIndex((t) => typeof t !== 'string');
  if (bad >= 0) throw new ArgumentError('texts', `element ${bad} is not a string`);
  const workers = options.workers ?? os.availableParallelism();
  if (!Number.isInteger(workers) || workers < 1) {
    throw new ArgumentError('workers', `must be a positive integer, got ${workers}`);
  }
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new ArgumentError('batchSize', `must be a positive integer, got ${batchSize}`);
  }
  const engine = options.engine ?? defaultEngine();
  if (!isEngineChoice(engine)) {
    throw new ArgumentError('engine', `must be one of ${ENGINE_CHOICES.join(', ')}, got '${String(engine)}'`);
  }
  const quiet = options.quiet === true;
  const prep = await prepare(source, quiet);
  try {
    const maxLength = options.maxLength ?? prep.maxSeqLength;
    if (!Number.isInteger(maxLength) || maxLength < 3 || maxLength > prep.maxPositions) {
      throw new ArgumentError(
        'maxLength',
        `must be an integer in [3, ${prep.maxPositions}] (max_position_embeddings), got ${maxLength}`,
      );
    }
    const dim = prep.dim;
    const out = new Float32Array(texts.length * dim);
    if (texts.length === 0) return { data: out, rows: 0, cols: dim };
    // The same order as SentenceEncoder.encode (longest first, ties by position), hence the same batches.
    const lengths = texts.map((t) => prep.tokenizer.tokenLength(t, { maxLength }));
    const order = texts.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
    const batches: number[][] = [];
    for (let s = 0; s < order.length; s += batchSize) batches.push(order.slice(s, s + batchSize));
    const progress = createProgress({
      total: texts.length,
      label: 'encode',
      unit: 'texts',
      quiet: quiet || options.progress === false,
    });
    try {
      const started = Math.min(workers, batches.length);
      await runWorkers(started, batches, {
        init: {
          modelDir: prep.modelDir,
          backend: options.backend ?? currentBackend() ?? 'auto',
          // Share the cores between the workers' wasm thread pools rather than oversubscribe them.
          wasmThreads: Math.max(1, Math.floor(defaultWasmThreads() / started)),
          engine,
          onnxThreads: Math.max(1, Math.floor(os.availableParallelism() / started)),
          maxLength,
          batchSize,
        },
        texts,
        onResult: (batch, data) => {
          if (data.length !== batch.length * dim) {
            throw new DenseRetrievalError(
              `encode worker returned ${data.length} values for ${batch.length} texts of dim ${dim}`,
            );
          }
          assertFiniteRows(data, batch, dim, texts);
          batch.forEach((row, j) => out.set(data.subarray(j * dim, (j + 1) * dim), row * dim));
          progress.tick(batch.length);
        },
      });
    } finally {
      progress.done();
    }
    return { data: out, rows: texts.length, cols: dim };
  } finally {
    await prep.cleanup();
  }
}

function runWorkers(
  count: number,
  batches: number[][],
  job: {
    init: WorkerInit;
    texts: string[];
    onResult: (batch: number[], data: Float32Array) => void;
  },
): Promise<void> {
  const entry = workerEntry();
  return new Promise<void>((resolve, reject) => {
    const pool: Worker[] = [];
    const exited = new Set<Worker>();
    let next = 0;
    let received = 0;
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      // Workers are told to stop and awaited, not terminated: terminating a thread while ONNX Runtime works
      // in it (a session still being created by a worker that got no batch) aborts the whole process
      // ("terminate called after throwing an instance of 'Napi::Error'"). A stopping worker finishes what
      // it is doing, frees its model and exits.
      const settle = (): void => (error ? reject(error) : resolve());
      const running = pool.filter((w) => !exited.has(w));
      let alive = running.length;
      if (alive === 0) settle();
      for (const w of running) {
        w.removeAllListeners('message');
        w.removeAllListeners('error');
        w.on('error', () => undefined);
        w.once('exit', () => {
          if (--alive === 0) settle();
        });
        w.postMessage({ type: 'stop' } satisfies ToWorker);
      }
    };
    const feed = (w: Worker): void => {
      if (next >= batches.length) return;
      const id = next++;
      w.postMessage({ type: 'encode', id, texts: batches[id].map((i) => job.texts[i]) } satisfies ToWorker);
    };
    for (let k = 0; k < count; k++) {
      const w = new Worker(entry.script, { workerData: job.init, eval: entry.eval });
      pool.push(w);
      w.once('exit', () => exited.add(w));
      w.on('message', (msg: FromWorker) => {
        if (msg.type === 'ready') {
          feed(w);
        } else if (msg.type === 'result') {
          try {
            job.onResult(batches[msg.id], msg.data);
          } catch (error) {
            finish(error as Error);
            return;
          }
          received++;
          if (received === batches.length) finish();
          else feed(w);
        } else {
          finish(new DenseRetrievalError(`encode worker ${k}: ${msg.name}: ${msg.message}`));
        }
      });
      w.on('error', (error) => finish(new DenseRetrievalError(`encode worker ${k}: ${error.message}`)));
      w.on('exit', (code) => {
        finish(new DenseRetrievalError(`encode worker ${k} exited early (code ${code})`));
      });
    }
  });
}
