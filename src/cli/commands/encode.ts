import { readLines } from '../../data/lines.js';
import os from 'node:os';
import path from 'node:path';
import { resolveModelSource } from '../../checkpoint/hub.js';
import { SCRATCH_PREFIX } from '../../models/load.js';
import { readJsonl } from '../../data/jsonl.js';
import { writeNpy } from '../../data/npy.js';
import { truncateEmbeddings } from '../../util/truncate.js';
import { quantizeEmbeddings } from '../../util/quantize.js';
import { writeNpyCodes } from '../../data/npy-codes.js';
import { vectorSidecarPaths, writeVectorSidecars } from '../../data/vector-sidecar.js';
import { InputFormatError } from '../../errors.js';
import { metricOfSimilarity } from '../../eval/retrieval-evaluator.js';
import { loadRetrievalModel, towerEncoder } from '../../models/load-retrieval-model.js';
import type { Tower } from '../../models/load-retrieval-model.js';
import { encodeParallel } from '../../models/parallel-encode.js';
import { POOLING_MODES } from '../../models/pooling.js';
import type { BiEncoder } from '../../models/bi-encoder.js';
import type { SentenceEncoder } from '../../models/sentence-encoder.js';
import type { Matrix } from '../../types.js';
import type { OptionValues } from '../command.js';
import { optionalChoice, optionalInt, requireFile, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { runShardEncode, runShardMerge, SHARD_HELP, SHARD_OPTIONS } from './encode-shards.js';
import { parseInteger } from '../../util/number.js';
import { ENGINE_CHOICES } from '../../engines/types.js';
import { defaultEngine } from '../../engines/select.js';

/**
 * Texts of an input file: `.txt` gives one text per line (blank lines inside the file are kept as empty
 * texts so row i of the output is line i+1); `.jsonl` gives one text per record, `title + " " + text`
 * when a title is present, as BEIR and sentence-transformers join them.
 */
export async function readTexts(file: string, flag = 'input'): Promise<string[]> {
  return (await readTextRecords(file, flag)).texts;
}

/**
 * {@link readTexts} plus each `.jsonl` record's `"_id"` (BEIR) or `"id"` (numbers become strings) and line;
 * `ids` is undefined for a `.txt`. {@link recordIds} checks them.
 */
export async function readTextRecords(
  file: string,
  flag = 'input',
): Promise<{ texts: string[]; ids: { id?: string; line: number }[] | undefined }> {
  const ext = path.extname(file).toLowerCase();
  const texts: string[] = [];
  const idOf: { id?: string; line: number }[] = [];
  if (ext === '.txt') {
    // Through the shared line reader, so invalid UTF-8 is an error naming the line, not U+FFFD.
    for await (const { text } of readLines(file, { keepBlank: true })) texts.push(text);
  } else if (ext === '.jsonl') {
    for await (const { value, line } of readJsonl(file)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new InputFormatError('expected a JSON object with a "text" field', file, line);
      }
      const { text, title, _id, id } = value as {
        text?: unknown;
        title?: unknown;
        _id?: unknown;
        id?: unknown;
      };
      const rawId = _id ?? id;
      idOf.push(
        typeof rawId === 'string' || typeof rawId === 'number' ? { id: String(rawId), line } : { line },
      );
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
  return { texts, ids: idOf.length === texts.length ? idOf : undefined };
}

/**
 * The ids of {@link readTextRecords}' records for the `.ids.txt` sidecar; `undefined` when no record has one.
 * When they cannot serve as ids — some records without one, a repeated id, one with white space (TREC runs
 * are white-space separated) — `problem` says why (naming the line) and no ids are written, so that
 * `index build` / `index search` ask for ids rather than use wrong ones.
 */
export function recordIds(
  file: string,
  records: { id?: string; line: number }[] | undefined,
): { ids?: string[]; problem?: string } {
  if (records === undefined || records.every((r) => r.id === undefined)) return {};
  const seen = new Map<string, number>();
  const ids: string[] = [];
  for (const { id, line } of records) {
    if (id === undefined) return { problem: `${file}:${line}: no "_id", but other records have one` };
    const key = id.trim();
    if (key === '' || /\s/.test(key)) {
      return { problem: `${file}:${line}: id ${JSON.stringify(id)} is empty or has white space` };
    }
    const first = seen.get(key);
    if (first !== undefined)
      return { problem: `${file}:${line}: duplicate id '${key}' (first on line ${first})` };
    seen.set(key, line);
    ids.push(key);
  }
  return { ids };
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

/**
 * The tower `--tower` names, or `--route` (sentence-transformers Router route names: `document` is the
 * passage tower); both given must agree.
 */
function towerOption(values: OptionValues): Tower | undefined {
  const tower = optionalChoice(values, 'tower', ['query', 'passage'] as const) as Tower | undefined;
  const route = optionalChoice(values, 'route', ['query', 'document'] as const);
  const fromRoute: Tower | undefined =
    route === undefined ? undefined : route === 'query' ? 'query' : 'passage';
  if (tower !== undefined && fromRoute !== undefined && tower !== fromRoute) {
    throw new UsageError(`--tower ${tower} and --route ${String(route)} name different towers; give one`);
  }
  return tower ?? fromRoute;
}

/** `dense-retrieval encode`: embed the texts of a file with a model and write a float32 .npy. */
export const encodeCommand: Command = {
  name: 'encode',
  summary: 'embed texts (.txt or .jsonl) with a model into a float32 .npy matrix',
  help: `Usage: dense-retrieval encode --model SRC --input FILE --output OUT.npy [options]

Embed every text of FILE and write an [n, dim] float32 .npy (numpy.load reads it). Pooling,
normalization and max length default to the model's sentence-transformers settings. Next to OUT.npy go
OUT.ids.txt (the records' "_id"s, line i+1 = row i; for a .jsonl input with ids) and OUT.meta.json
(model, tower, similarity, normalization), which 'index build' and 'index search' read by default.

Options:
  --model SRC          model directory (also a 'train --untied' output), Hugging Face hub id
                       (org/name), or scratch:<config.json> (random init with the bundled
                       bert-base-uncased tokenizer) (required)
  --tower query|passage  which tower of an untied (DPR-style) model embeds the texts: query for
                       queries, passage for the corpus (required for an untied model; a tied model
                       has one encoder for both)
  --input FILE         .txt: one text per line (row i = line i+1; blank lines are empty texts);
                       .jsonl: one {"_id", "text", optional "title"} object per line, encoded as
                       "title text" as BEIR does; the ids go to OUT.ids.txt (required)
  --output OUT.npy     where to write the embeddings (required)
  --pooling MODE       cls|mean|max|mean_sqrt_len_tokens|weightedmean|lasttoken
                       (default: the model's 1_Pooling config, else mean)
  --normalize          L2-normalize the vectors (default: the model's 2_Normalize module)
  --no-normalize       do not normalize, even if the model does
  --max-length N       truncate texts to N tokens (default: the model's max_seq_length)
  --batch-size N       texts per forward pass (default 32)
  --route query|document  alias of --tower for a sentence-transformers Router model's route names
                       (query = --tower query, document = --tower passage)
  --prompt-name NAME   prepend the model's named prompt (config_sentence_transformers.json), e.g.
                       query or document; default: the model's default_prompt_name, if any
  --seed N             seed of a scratch: model's random weights (default: unseeded; give one to
                       encode several shards, or runs, with the same scratch model)
  --workers N|auto     encode on N worker threads, each with its own backend and model copy
                       (default 1: this thread; auto: one per core); the same vectors as 1.
                       On wasm, --threads spreads only the matrix products over the cores;
                       workers spread everything (and share the cores between them)
  --engine E           auto (default) | onnx | tfjs: where inference runs. onnx = ONNX Runtime (the
                       optional package onnxruntime-node) on the model exported in memory; tfjs = the
                       TensorFlow.js backend; auto = onnx when onnxruntime-node is installed. The same
                       vectors within 1e-4 either way. With onnx one process already uses every core
                       (--workers only adds start-up: docs/performance.md)
  --precision P        float32 (default), or int8 | uint8 | binary | ubinary: write sentence-transformers'
                       quantized codes (int8/uint8 ranges from these embeddings) as an int8/uint8 .npy;
                       OUT.meta.json records the precision. For 'index build' encode float32: its int8
                       and binary indexes quantize the vectors themselves
  --truncate-dim N     keep the first N dimensions (Matryoshka models), re-normalised if the model normalizes
  --quiet              no progress bar
  -h, --help           show this help
${SHARD_HELP}`,
  options: {
    model: { type: 'string' },
    tower: { type: 'string' },
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
    'truncate-dim': { type: 'string' },
    precision: { type: 'string' },
    engine: { type: 'string' },
    seed: { type: 'string' },
    quiet: { type: 'boolean' },
    ...SHARD_OPTIONS,
  },
  needsBackend: true,
  async run(values, positionals) {
    if (values.merge === true) return runShardMerge(values, positionals, values.quiet === true);
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const sharded = values.shard !== undefined;
    const modelSource = requireString(values, 'model');
    const input = requireFile(values, 'input');
    const output = sharded ? '' : requireString(values, 'output');
    const pooling = optionalChoice(values, 'pooling', POOLING_MODES);
    const maxLength = optionalInt(values, 'max-length', 3);
    const batchSize = optionalInt(values, 'batch-size', 1);
    const truncateDim = optionalInt(values, 'truncate-dim', 1);
    const precision =
      optionalChoice(values, 'precision', ['float32', 'int8', 'uint8', 'binary', 'ubinary'] as const) ??
      'float32';
    const workers = parseWorkers(values);
    const engine = optionalChoice(values, 'engine', ENGINE_CHOICES);
    if (values.normalize === true && values['no-normalize'] === true) {
      throw new UsageError('--normalize and --no-normalize contradict each other');
    }
    const normalize = values.normalize === true ? true : values['no-normalize'] === true ? false : undefined;
    const quiet = values.quiet === true;
    const promptName = typeof values['prompt-name'] === 'string' ? values['prompt-name'] : undefined;
    if (promptName !== undefined && workers !== 1) {
      throw new UsageError('--prompt-name needs --workers 1 (workers encode the texts as given)');
    }
    if (sharded && promptName !== undefined) {
      // A shard's manifest fingerprints the model, not a prompt chosen on the command line.
      throw new UsageError(
        '--prompt-name cannot be combined with --shard (shards encode with the model default)',
      );
    }
    const tower = towerOption(values);
    if (sharded && workers > 1) throw new UsageError('--shard runs one process per shard: drop --workers');
    // Shards are float32 rows merged (or loaded into pgvector) as they are: truncate or quantize after --merge.
    if (sharded && (truncateDim !== undefined || precision !== 'float32')) {
      throw new UsageError(
        '--shard writes float32 rows of the full dimension: drop --truncate-dim/--precision',
      );
    }
    // Read the input before loading the model: a bad file should fail fast (a shard streams it instead,
    // and its chunks carry their ids).
    const records = sharded ? { texts: [], ids: undefined } : await readTextRecords(input);
    const texts = records.texts;
    const { ids, problem } = recordIds(input, records.ids);
    // Notes on pooling defaults and overrides are printed even with --quiet, which only silences progress.
    const log = (m: string): void => void process.stderr.write(`dense-retrieval: ${m}\n`);
    if (problem !== undefined)
      log(`warning: the records' ids are not usable, no ids file is written: ${problem}`);
    // Loaded here even with workers: bad models and flags fail before any worker starts, the notes above
    // are printed once, and the summary line knows the settings.
    let model: BiEncoder<SentenceEncoder> | undefined = await loadRetrievalModel(modelSource, {
      seed: optionalInt(values, 'seed', 0),
      pooling,
      normalize,
      maxSeqLength: maxLength,
      quiet,
      log,
    });
    try {
      if (!model.tied && tower === undefined) {
        throw new UsageError(
          `${modelSource} has separate query and passage towers (untied): give --tower query for ` +
            'queries or --tower passage for the corpus',
        );
      }
      const encoder = towerEncoder(model, tower);
      encoder.engine = engine;
      if (promptName !== undefined && !(promptName in encoder.prompts)) {
        const known = Object.keys(encoder.prompts);
        throw new UsageError(
          `--prompt-name ${promptName}: the model has ${known.length === 0 ? 'no prompts' : `prompts ${known.join(', ')}`}`,
        );
      }
      if (truncateDim !== undefined && truncateDim > encoder.dim) {
        throw new UsageError(`--truncate-dim ${truncateDim} exceeds the model's ${encoder.dim} dimensions`);
      }
      const settings =
        `${model.tied ? '' : `${tower} tower, `}${encoder.pooling} pooling${encoder.normalize ? ', normalized' : ''}, ` +
        `max length ${encoder.maxSeqLength}${promptName === undefined ? '' : `, prompt ${promptName}`}` +
        (truncateDim === undefined
          ? encoder.truncateDim === undefined
            ? ''
            : `, truncated to ${encoder.truncateDim} dims (the model's truncate_dim)`
          : `, truncated to ${truncateDim} dims`);
      const similarity = model.similarityIsDefault ? null : model.similarity;
      const normalized = encoder.normalize;
      const untiedTower = model.tied ? undefined : tower;
      const vectorsMeta = {
        model: modelSource,
        ...(untiedTower === undefined ? {} : { tower: untiedTower }),
        similarity,
        metric: metricOfSimilarity(similarity) ?? null,
        normalized,
      };
      // Each shard records this meta; the merge writes it as OUT.meta.json beside OUT.ids.txt.
      if (sharded) return await runShardEncode(values, input, encoder, batchSize, quiet, vectorsMeta);
      // What the workers run on, as `auto` decides it (they report nothing back).
      const ran =
        workers === 1
          ? await encoder.resolveEngine()
          : (engine ?? defaultEngine()) === 'auto'
            ? (await import('../../engines/onnxruntime.js')).onnxRuntimeAvailable()
              ? 'onnx'
              : 'tfjs'
            : (engine ?? defaultEngine());
      let matrix: Matrix;
      if (workers === 1) {
        // Full width here, as from the workers; the one truncation below applies the flag or truncate_dim.
        matrix = await encoder.encode(texts, { batchSize, quiet, promptName, truncateDim: encoder.dim });
      } else {
        const maxSeqLength = encoder.maxSeqLength;
        // Workers load the model from disk. A tied model without overrides is the checkpoint's own
        // directory (a hub id's cache directory), and this thread's copy can go now; a scratch model, a
        // tower of an untied model, or overridden pooling / normalisation exists only in memory as such, so
        // encodeParallel saves it to a temporary directory.
        let source: string | SentenceEncoder = encoder;
        if (
          model.tied &&
          !modelSource.startsWith(SCRATCH_PREFIX) &&
          pooling === undefined &&
          normalize === undefined
        ) {
          source = await resolveModelSource(modelSource, { quiet });
          model.dispose();
          model = undefined;
        }
        matrix = await encodeParallel(source, texts, {
          workers,
          batchSize,
          maxLength: maxSeqLength,
          quiet,
          engine,
        });
      }
      // Truncated here, after either path, so workers need not know: re-normalised when the model normalises.
      // --truncate-dim, else the model's saved truncate_dim (sentence-transformers' default width).
      const cut = truncateDim ?? encoder.truncateDim;
      if (cut !== undefined) matrix = truncateEmbeddings(matrix, cut, normalized);
      let codeWidth: number | undefined;
      if (precision === 'float32') await writeNpy(output, matrix);
      else {
        const q = quantizeEmbeddings(matrix, precision);
        const dtype = q.data instanceof Int8Array ? 'int8' : 'uint8';
        await writeNpyCodes(output, { dtype, data: q.data, rows: q.rows, cols: q.cols });
        codeWidth = q.cols;
      }
      // The precision is recorded: a ubinary file of a 64-dim model has 8 columns, and says so.
      await writeVectorSidecars(output, {
        ids,
        meta: {
          rows: matrix.rows,
          dim: matrix.cols,
          ...vectorsMeta,
          precision,
          ...(codeWidth === undefined ? {} : { codeWidth }),
        },
      });
      process.stderr.write(
        `dense-retrieval: encoded ${matrix.rows} texts -> ${output} [${matrix.rows}, ${matrix.cols}] ` +
          `(${settings}${precision === 'float32' ? '' : `, ${precision} codes`})${workers > 1 ? ` on ${workers} workers` : ''}\n` +
          `dense-retrieval: engine ${ran}\n` +
          (ids === undefined ? '' : `dense-retrieval: ids -> ${vectorSidecarPaths(output).ids}\n`),
      );
    } finally {
      model?.dispose();
    }
  },
};
