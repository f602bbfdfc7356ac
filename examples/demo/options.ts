/**
 * Command-line flags of the demo (`npm run demo -- --steps 100`), parsed into {@link DemoOptions}. Every bad
 * flag is an {@link ArgumentError} naming it, raised before any data or model is touched.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ArgumentError, SCRATCH_PREFIX } from '../../src/index.js';

const EXAMPLES = path.resolve(import.meta.dirname, '..');

/** The bundled SciFact copy (BEIR layout, train and test splits). */
export const DEFAULT_DATA = path.join(EXAMPLES, 'data', 'scifact');
/** A 2-layer, 64-wide BERT: small enough to train for a few hundred steps on 2 CPU cores. */
export const DEFAULT_CONFIG = path.join(EXAMPLES, 'configs', 'scratch-bert-2x64.json');
export const DEFAULT_MODEL = `${SCRATCH_PREFIX}${DEFAULT_CONFIG}`;

/**
 * Full-run defaults: 300 steps take 0.6-1.5 s each on 2 busy cores (wasm), so training stays under 8 minutes
 * even on a loaded machine; fewer steps measurably hurt (80 steps: test nDCG@10 0.52 instead of 0.60).
 * docs/demo.md has the measured timings.
 */
export const FULL_DEFAULTS = { steps: 300, batchSize: 32 } as const;
/** `--quick`: a subset of the data and a few steps, for the test and a smoke run (well under a minute). */
export const QUICK_DEFAULTS = { steps: 4, batchSize: 8, testQueries: 12, trainQueries: 40, extraDocs: 200 };

/** Peak learning rates: a random init takes large steps, a pretrained encoder must not forget. */
export const LR = { scratch: 1e-3, pretrained: 2e-5 } as const;

export interface DemoOptions {
  /** BEIR dataset directory with `train` and `test` qrels. */
  data: string;
  /** `scratch:<config.json>` or a local checkpoint directory. */
  model: string;
  steps: number;
  batchSize: number;
  /** Peak learning rate of the warmup-cosine schedule. */
  lr: number;
  out: string;
  quick: boolean;
  quiet: boolean;
  seed: number;
}

export const USAGE = `Usage: npm run demo -- [options]

Trains a small bi-encoder on SciFact's train split and compares it on the test split with BM25, the
untrained model, exhaustive and HNSW search and an RRF hybrid; writes <out>/report.md with plots.

  --model SRC        scratch:<config.json> (default: ${path.relative(process.cwd(), DEFAULT_CONFIG)})
                     or a local pretrained checkpoint directory (sentence-transformers layout)
  --steps N          training updates (default ${FULL_DEFAULTS.steps}; ${QUICK_DEFAULTS.steps} with --quick)
  --batch-size N     queries per batch (default ${FULL_DEFAULTS.batchSize}; ${QUICK_DEFAULTS.batchSize} with --quick)
  --lr X             peak learning rate (default ${LR.scratch} from scratch, ${LR.pretrained} for a checkpoint)
  --out DIR          output directory (default demo-output)
  --data DIR         BEIR dataset directory (default: the bundled SciFact)
  --seed N           seed of initialisation, batch order and dropout (default 1)
  --quick            tiny settings: a subset of corpus and queries, a few steps
  --quiet            no progress bars or phase messages (the table is still printed)
  -h, --help         this text
`;

function int(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ArgumentError(`--${name}`, `expects an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min) throw new ArgumentError(`--${name}`, `must be >= ${min}, got ${n}`);
  return n;
}

/**
 * Parse the demo's flags; returns `undefined` for `--help` (after printing the usage).
 *
 * @throws {ArgumentError} naming the flag: unknown flag, non-integer `--steps`, missing `--model` directory.
 * @example
 * ```ts
 * const options = parseDemoArgs(['--quick', '--out', '/tmp/demo']);
 * ```
 */
export function parseDemoArgs(argv: string[]): DemoOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string' },
        steps: { type: 'string' },
        'batch-size': { type: 'string' },
        lr: { type: 'string' },
        out: { type: 'string' },
        data: { type: 'string' },
        seed: { type: 'string' },
        quick: { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    // node:util's messages already name the flag ("Unknown option '--stpes'").
    throw new ArgumentError('arguments', `${(error as Error).message}\n\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return undefined;
  }
  const quick = values.quick === true;
  const defaults = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  const model = values.model ?? DEFAULT_MODEL;
  if (model.startsWith(SCRATCH_PREFIX)) {
    const config = model.slice(SCRATCH_PREFIX.length);
    if (!existsSync(config)) throw new ArgumentError('--model', `no such config file: ${config}`);
  } else if (!existsSync(model) || !statSync(model).isDirectory()) {
    // loadModel would take a hub id here and download it; the demo promises to run offline, so only a
    // local directory is accepted (examples/finetune-vs-pretrained.ts is the one that downloads).
    throw new ArgumentError(
      '--model',
      `'${model}' is not a local checkpoint directory; the demo runs offline and takes scratch:<config.json> ` +
        'or a directory (download a hub model with examples/finetune-vs-pretrained.ts first)',
    );
  }
  const data = values.data ?? DEFAULT_DATA;
  if (!existsSync(data) || !statSync(data).isDirectory()) {
    throw new ArgumentError('--data', `no such directory: ${data}`);
  }
  let lr: number = model.startsWith(SCRATCH_PREFIX) ? LR.scratch : LR.pretrained;
  if (values.lr !== undefined) {
    lr = Number(values.lr);
    if (values.lr.trim() === '' || !Number.isFinite(lr) || lr <= 0) {
      throw new ArgumentError('--lr', `expects a positive number, got '${values.lr}'`);
    }
  }
  const out = values.out ?? 'demo-output';
  if (out.trim() === '') throw new ArgumentError('--out', 'is empty');
  return {
    data,
    model,
    steps: int('steps', values.steps, defaults.steps, 1),
    batchSize: int('batch-size', values['batch-size'], defaults.batchSize, 2),
    lr,
    out,
    quick,
    quiet: values.quiet === true,
    seed: int('seed', values.seed, 1, 0),
  };
}
