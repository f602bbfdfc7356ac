import type { Command } from './command.js';

/** A CLI command as `--help` lists it; its module (and what that imports) loads only when it runs. */
export interface CommandEntry {
  /** Name as typed, e.g. `evaluate` or `index build`. */
  name: string;
  /** One line for the command list (the same as the command's own `summary`; a test checks it). */
  summary: string;
  /** Import the command's module. */
  load(): Promise<Command>;
}

/**
 * Every CLI command, in the order `--help` lists them. Each command lives in its own file under
 * `commands/`; add it here. Commands are imported on demand: `--help` and `evaluate` must not pay for
 * loading tfjs, the tokenizers or native addons (start-up under 0.5 s; `benchmarks/cli-startup.ts`).
 */
export const COMMANDS: CommandEntry[] = [
  {
    name: 'tokenize',
    summary: "print a model's token ids for each text (one JSON line per text)",
    load: async () => (await import('./commands/tokenize.js')).tokenizeCommand,
  },
  {
    name: 'encode',
    summary: 'embed texts (.txt or .jsonl) with a model into a float32 .npy matrix',
    load: async () => (await import('./commands/encode.js')).encodeCommand,
  },
  {
    name: 'evaluate',
    summary: 'score a TREC run against qrels with trec_eval measures',
    load: async () => (await import('./commands/evaluate.js')).evaluateCommand,
  },
  {
    name: 'compare',
    summary: 'compare TREC runs on trec_eval measures with paired significance tests',
    load: async () => (await import('./commands/compare.js')).compareCommand,
  },
  {
    name: 'fuse',
    summary: 'fuse TREC runs (rrf, combsum, combmnz, combmax, wsum) into one run',
    load: async () => (await import('./commands/fuse.js')).fuseCommand,
  },
  {
    name: 'train',
    summary: 'train a bi-encoder on the (query, relevant document) pairs of a BEIR split',
    load: async () => (await import('./commands/train.js')).trainCommand,
  },
  {
    name: 'mine',
    summary: 'mine hard negatives for a BEIR split with a model or BM25 into JSONL training data',
    load: async () => (await import('./commands/mine.js')).mineCommand,
  },
  {
    name: 'index build',
    summary: 'build an exact, HNSW, int8, binary or pgvector index from a .npy matrix and its ids',
    load: async () => (await import('./commands/index-build.js')).indexBuildCommand,
  },
  {
    name: 'index search',
    summary: 'search a saved index with query vectors (.npy) and write a TREC run',
    load: async () => (await import('./commands/index-search.js')).indexSearchCommand,
  },
  {
    name: 'export',
    summary: 'export a model to ONNX: a directory that transformers.js and sentence-transformers both load',
    load: async () => (await import('./commands/export.js')).exportCommand,
  },
  {
    name: 'evaluate-model',
    summary: 'evaluate a model on a BEIR dataset with exact, HNSW and BM25 retrieval side by side',
    load: async () => (await import('./commands/evaluate-model.js')).evaluateModelCommand,
  },
];
