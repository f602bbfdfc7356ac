import { readLines } from '../../data/lines.js';
import os from 'node:os';
import path from 'node:path';
import { resolveModelSource } from '../../checkpoint/hub.js';
import { loadModel, SCRATCH_PREFIX } from '../../models/load.js';
import { readJsonl } from '../../data/jsonl.js';
import { writeNpy } from '../../data/npy.js';
import { InputFormatError } from '../../errors.js';
import { encodeParallel } from '../../models/parallel-encode.js';
import { POOLING_MODES } from '../../models/pooling.js';
import type { SentenceEncoder } from '../../models/sentence-encoder.js';
import type { Matrix } from '../../types.js';
import type { OptionValues } from '../command.js';
import { optionalChoice, optionalInt, requireFile, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { runShardEncode, runShardMerge, SHARD_HELP, SHARD_OPTIONS } from './encode-shards.js';
import { parseInteger } from '../../util/number.js';

/**
 * Texts of an input file: `.txt` gives one text per line (blank lines inside the file are kept as empty
 * texts so row i of the output is line i+1); `.jsonl` gives one text per record, `title + " " + text`
 * when a title is present, as BEIR and sentence-transformers join them.
 */
export async function readTexts(file: string, flag = 'input'): Promise<string[]> {
  const ext = path.extname(file).toLowerCase();
  const texts: string[] = [];
  if (ext === '.txt') {
    // Through the shared line reader, so invalid UTF-8 is an error naming the line, not U+FFFD.
    for await (const { text } of readLines(file, { keepBlank: true })) texts.push(text);
  } else if (ext === '.jsonl') {
    for await (const { value, line } of readJsonl(file)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new InputFormatError('expected a JSON object with a "text" field', file, line);
      }
      const { text, title } = value as { text?: unknown; title?: unknown };
      if (typeof text !== 'string')
        throw new InputFormatError(`"text" must be a string, got ${JSON.stringify(text)}`, file, line);
      if (title !== undefined && title !== null && typeof title !== 'string') {
        throw new InputFormatError(`"title" must be a string, got ${JSON.stringify(title)}`, file, line);
      }
      texts.push(typeof title === 'string' ? `${title} ${text}`.trim() : text);
    }
  } else {
    throw new UsageError(`--${flag}: expected a .txt (one text per line) or .jsonl file, got ${file}`);
  }
  if (texts.every((t) => t.trim() === ''))
    throw new InputFormatError('empty input file: no texts to process', file);
  return texts;
}

/** `--workers N|auto`: 1 when absent, `os.availableParallelism()` for `auto`. */
function parseWorkers(values: OptionValues): number {
  const v = values.workers;
  if (v === undefined) return 1;
  if (v === 'auto') return os.availableParallelism();
  const n = typeof v === 'string' ? parseInteger(v) : undefined;
  if (n === undefined || n < 1) {
    throw new UsageError(`--workers expects a positive integer or 'auto', got '${String(v)}'`);
  }
  return n;
}

/** `dense-retrieval encode`: embed the texts of a file with a model and write a float32 .npy. */
export const encodeCommand: Command = {
  name: 'encode',
  summary: 'embed texts (.txt or .jsonl) with a model into a float32 .npy matrix',
  help: `Usage: dense-retrieval encode --model SRC --input FILE --output OUT.npy [options]

Embed every text of FILE and write an [n, dim] float32 .npy (numpy.load reads it). Pooling,
normalization and max length default to the model's sentence-transformers settings.

Options:
  --model SRC          model directory, Hugging Face hub id (org/name), or scratch:<config.json>
                       (random init with the bundled bert-base-uncased tokenizer) (required)
  --input FILE         .txt: one text per line (row i = line i+1; blank lines are empty texts);
                       .jsonl: one {"text", optional "title"} object per line, encoded as
                       "title text" as BEIR does (required)
  --output OUT.npy     where to write the embeddings (required)
  --pooling MODE       cls|mean|max|mean_sqrt_len_tokens|weightedmean|lasttoken
                       (default: the model's 1_Pooling config, else mean)
  --normalize          L2-normalize the vectors (default: the model's 2_Normalize module)
  --no-normalize       do not normalize, even if the model does
  --max-length N       truncate texts to N tokens (default: the model's max_seq_length)
  --batch-size N       texts per forward pass (default 32)
  --route NAME         the route of a sentence-transformers Router model (an untied bi-encoder): query
                       or document (default: the model's default route)
  --prompt-name NAME   prepend the model's named prompt (config_sentence_transformers.json), e.g.
                       query or document; default: the model's default_prompt_name, if any
  --seed N             seed of a scratch: model's random weights (default: unseeded; give one to
                       encode several shards, or runs, with the same scratch model)
  --workers N|auto     encode on N worker threads, each with its own backend and model copy
                       (default 1: this thread; auto: one per core); the same vectors as 1.
                       On wasm, --threads spreads only the matrix products over the cores;
                       workers spread everything (and share the cores between them)
  --quiet              no progress bar
  -h, --help           show this help
${SHARD_HELP}`,
  options: {
    model: { type: 'string' },
    input: { type: 'string' },
    output: { type: 'string' },
    pooling: { type: 'string' },
    normalize: { type: 'boolean' },
    'no-normalize': { type: 'boolean' },
    'max-length': { type: 'string' },
    'batch-size': { type: 'string' },
    workers: { type: 'string' },
    'prompt-name': { type: 'string' },
    route: { type: 'string' },
    seed: { type: 'string' },
    quiet: { type: 'boolean' },
    ...SHARD_OPTIONS,
  },
  needsBackend: true,
  async run(values, positionals) {
    if (values.merge === true) return runShardMerge(values, positionals, values.quiet === true);
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const sharded = values.shard !== undefined;
    const model = requireString(values, 'model');
    const input = requireFile(values, 'input');
    const output = sharded ? '' : requireString(values, 'output');
    const pooling = optionalChoice(values, 'pooling', POOLING_MODES);
    const maxLength = optionalInt(values, 'max-length', 3);
    const batchSize = optionalInt(values, 'batch-size', 1);
    const workers = parseWorkers(values);
    if (values.normalize === true && values['no-normalize'] === true) {
      throw new UsageError('--normalize and --no-normalize contradict each other');
    }
    const normalize = values.normalize === true ? true : values['no-normalize'] === true ? false : undefined;
    const quiet = values.quiet === true;
    const promptName = typeof values['prompt-name'] === 'string' ? values['prompt-name'] : undefined;
    if (promptName !== undefined && workers !== 1) {
      throw new UsageError('--prompt-name needs --workers 1 (workers encode the texts as given)');
    }
    if (sharded && workers > 1) throw new UsageError('--shard runs one process per shard: drop --workers');
    if (sharded && promptName !== undefined) {
      // A shard's manifest fingerprints the model, not a prompt chosen on the command line.
      throw new UsageError(
        '--prompt-name cannot be combined with --shard (shards encode with the model default)',
      );
    }
    // Read the input before loading the model: a bad file should fail fast (a shard streams it instead).
    const texts = sharded ? [] : await readTexts(input);
    // Notes on pooling defaults and overrides are printed even with --quiet, which only silences progress.
    const log = (m: string): void => void process.stderr.write(`dense-retrieval: ${m}\n`);
    // Loaded here even with workers: bad models and flags fail before any worker starts, the notes above
    // are printed once, and the summary line knows the settings.
    let encoder: SentenceEncoder | undefined = await loadModel(model, {
      seed: optionalInt(values, 'seed', 0),
      pooling,
      normalize,
      maxSeqLength: maxLength,
      quiet,
      log,
      route: typeof values.route === 'string' ? values.route : undefined,
    });
    if (promptName !== undefined && !(promptName in encoder.prompts)) {
      const known = Object.keys(encoder.prompts);
      encoder.dispose();
      throw new UsageError(
        `--prompt-name ${promptName}: the model has ${known.length === 0 ? 'no prompts' : `prompts ${known.join(', ')}`}`,
      );
    }
    const settings =
      `${encoder.pooling} pooling${encoder.normalize ? ', normalized' : ''}, ` +
      `max length ${encoder.maxSeqLength}${promptName === undefined ? '' : `, prompt ${promptName}`}`;
    try {
      if (sharded) return await runShardEncode(values, input, encoder, batchSize, quiet);
      let matrix: Matrix;
      if (workers === 1) {
        matrix = await encoder.encode(texts, { batchSize, quiet, promptName });
      } else {
        const maxSeqLength = encoder.maxSeqLength;
        // Workers load the model from disk. Without overrides that is the checkpoint's own directory (a hub
        // id's cache directory), and this thread's copy can go now; a scratch model or overridden pooling /
        // normalisation (or one route of a Router model) exists only in memory, so encodeParallel saves it to a
        // temporary directory.
        let source: string | SentenceEncoder = encoder;
        if (
          !model.startsWith(SCRATCH_PREFIX) &&
          pooling === undefined &&
          normalize === undefined &&
          values.route === undefined
        ) {
          source = await resolveModelSource(model, { quiet });
          encoder.dispose();
          encoder = undefined;
        }
        matrix = await encodeParallel(source, texts, { workers, batchSize, maxLength: maxSeqLength, quiet });
      }
      await writeNpy(output, matrix);
      process.stderr.write(
        `dense-retrieval: encoded ${matrix.rows} texts -> ${output} [${matrix.rows}, ${matrix.cols}] ` +
          `(${settings})${workers > 1 ? ` on ${workers} workers` : ''}\n`,
      );
    } finally {
      encoder?.dispose();
    }
  },
};
