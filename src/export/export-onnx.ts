import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeModelDir } from '../checkpoint/model-dir.js';
import type { SaveOptions } from '../checkpoint/model-dir.js';
import { ArgumentError } from '../errors.js';
import type { SentenceEncoder } from '../models/sentence-encoder.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { createProgress } from '../util/progress.js';
import { buildOnnxGraph, checkOnnxOptions, quantizeOnnxGraph, serializeOnnxGraph } from './onnx-model.js';
import type { OnnxModelOptions } from './onnx-model.js';
import type { SerializeOptions } from './serialize.js';

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions extends OnnxModelOptions, SaveOptions {
  /** Print nothing (no progress). */
  quiet?: boolean;
}

const EXPORT_KEYS = [
  ...optionKeys<ExportOnnxOptions>({ quantize: true, opset: true, overwrite: true, quiet: true }),
];

/** What {@link exportOnnx} wrote. */
export interface ExportResult {
  /** The model directory. */
  dir: string;
  /**
   * The ONNX file of the requested precision, the one transformers.js loads for that `dtype`:
   * `onnx/model.onnx`, or with `quantize: 'q8'` `onnx/model_quantized.onnx`. With q8 the float
   * `onnx/model.onnx` is written too: {@link ExportResult.files} lists every file.
   */
  onnxFile: string;
  /** The external data file beside {@link ExportResult.onnxFile}, when the weights exceed 2 GiB; otherwise undefined. */
  externalDataFile: string | undefined;
  /**
   * Every ONNX file written, in order: `onnx/model.onnx` (and its external data), then with q8
   * `onnx/model_quantized.onnx`; the paths start with `dir`.
   */
  files: string[];
  /** Bytes of {@link ExportResult.onnxFile} plus its external data only (not of every file in `files`). */
  bytes: number;
  /** The graph's input names, in order. */
  inputNames: string[];
  /** The graph's outputs: `last_hidden_state` and `sentence_embedding`. */
  outputNames: string[];
  opset: number;
}

/** The ONNX file name transformers.js loads for each `dtype` (`fp32` -> model.onnx, `q8` -> model_quantized.onnx). */
export function onnxFileName(quantize: OnnxModelOptions['quantize']): string {
  return quantize === 'q8' ? 'model_quantized.onnx' : 'model.onnx';
}

type Json = Record<string, unknown>;

/** The string of the token with id `id` in a `tokenizer.json` (added tokens first, then the model's vocabulary). */
function tokenOfId(tokenizer: Json, id: number): string | undefined {
  const added = Array.isArray(tokenizer.added_tokens) ? (tokenizer.added_tokens as Json[]) : [];
  const hit = added.find((t) => t.id === id);
  if (typeof hit?.content === 'string') return hit.content;
  const vocab = (tokenizer.model as Json | undefined)?.vocab;
  if (Array.isArray(vocab)) {
    const entry = vocab[id] as unknown;
    return Array.isArray(entry) && typeof entry[0] === 'string' ? entry[0] : undefined; // Unigram: [token, score]
  }
  if (vocab !== null && typeof vocab === 'object') {
    for (const [token, i] of Object.entries(vocab as Record<string, unknown>)) if (i === id) return token;
  }
  return undefined;
}

/**
 * Complete the saved tokenizer files for transformers.js: `model_max_length` is the encoder's
 * `maxSeqLength` (so both truncate texts at the same length), and `pad_token` is named in
 * `tokenizer_config.json` and `special_tokens_map.json` (transformers.js pads batches with it).
 */
async function completeTokenizerFiles(dir: string, encoder: SentenceEncoder): Promise<void> {
  const read = async (name: string): Promise<Json> =>
    JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as Json;
  const tokenizer = await read('tokenizer.json');
  const config = await read('tokenizer_config.json');
  const specials = await read('special_tokens_map.json');
  config.model_max_length = encoder.maxSeqLength;
  const pad = tokenOfId(tokenizer, encoder.tokenizer.padTokenId);
  if (config.pad_token === undefined && pad !== undefined) config.pad_token = pad;
  if (specials.pad_token === undefined && config.pad_token !== undefined)
    specials.pad_token = config.pad_token;
  await writeFileAtomic(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  await writeFileAtomic(path.join(dir, 'special_tokens_map.json'), `${JSON.stringify(specials, null, 2)}\n`);
}

/** Internal switches for tests: a lowered external-data threshold exercises the >2 GiB writer on a tiny model. */
export const exportInternals: { serialize: SerializeOptions } = { serialize: {} };

/**
 * Export `encoder` to `dir` as a model directory that is at once a transformers.js model (`onnx/model.onnx`,
 * and `onnx/model_quantized.onnx` beside it with `quantize: 'q8'`; `config.json`; `tokenizer.json`;
 * `tokenizer_config.json` with `pad_token` and `model_max_length`) and a sentence-transformers model
 * (`model.safetensors`, `modules.json`, `1_Pooling/config.json`, Dense and Normalize modules,
 * `config_sentence_transformers.json`), which this library loads too. The graph is the one of
 * {@link buildOnnxModel}; weights beyond 2 GiB go to `onnx/model.onnx_data` (ONNX external data).
 *
 * The directory is written as one unit through the model-directory writer (staging directory, manifest):
 * by default files of `dir` that are not the model's are kept; `overwrite: 'replace'` replaces the directory.
 *
 * @throws {ArgumentError} for bad options or an architecture/module without an ONNX export.
 * @example
 * ```ts
 * const result = await exportOnnx(encoder, 'runs/my-retriever-onnx', { quantize: 'q8' });
 * result.onnxFile; // 'runs/my-retriever-onnx/onnx/model_quantized.onnx'
 * result.files; // ['runs/my-retriever-onnx/onnx/model.onnx', 'runs/my-retriever-onnx/onnx/model_quantized.onnx']
 * ```
 */
export async function exportOnnx(
  encoder: SentenceEncoder,
  dir: string,
  options: ExportOnnxOptions = {},
): Promise<ExportResult> {
  checkOptionKeys('exportOnnx', options, EXPORT_KEYS);
  if (typeof dir !== 'string' || dir === '') throw new ArgumentError('dir', 'must be a non-empty path');
  const { quiet, overwrite, ...modelOptions } = options;
  const opset = checkOnnxOptions(modelOptions);
  const progress = createProgress({ total: 3, label: 'export', unit: 'steps', quiet: quiet === true });
  const fileName = onnxFileName(modelOptions.quantize);
  let result: ExportResult | undefined;
  try {
    // The graph first: an encoder that cannot export fails before anything is staged.
    const built = buildOnnxGraph(encoder, { opset }, { restoreClosingTokens: true });
    progress.tick(1);
    await writeModelDir(
      dir,
      async (tmp) => {
        await encoder.writeModelFiles(tmp);
        await completeTokenizerFiles(tmp, encoder);
        progress.tick(1);
        // q8 is written beside the float model (transformers.js picks the file by `dtype`), never instead of
        // it: a q8 export into a directory with an fp32 export must not remove that.
        const variants = [{ name: 'model.onnx', graph: built }];
        if (modelOptions.quantize === 'q8') {
          variants.push({ name: onnxFileName('q8'), graph: quantizeOnnxGraph(built) });
        }
        const onnxDir = path.join(tmp, 'onnx');
        await fs.mkdir(onnxDir, { recursive: true });
        const files: string[] = [];
        let bytes = 0;
        let externalDataFile: string | undefined;
        for (const { name, graph } of variants) {
          const dataName = `${name}_data`;
          const serialized = serializeOnnxGraph(graph, {
            externalDataLocation: dataName,
            ...exportInternals.serialize,
          })!;
          await writeFileAtomic(path.join(onnxDir, name), serialized.model);
          files.push(path.join(dir, 'onnx', name));
          if (serialized.externalData.length > 0) {
            await writeFileAtomic(path.join(onnxDir, dataName), serialized.externalData);
            files.push(path.join(dir, 'onnx', dataName));
            if (name === fileName) externalDataFile = path.join(dir, 'onnx', dataName);
          }
          if (name === fileName) bytes = serialized.model.byteLength + serialized.externalBytes;
        }
        progress.tick(1);
        result = {
          dir,
          onnxFile: path.join(dir, 'onnx', fileName),
          externalDataFile,
          files,
          bytes,
          inputNames: built.inputNames,
          outputNames: ['last_hidden_state', 'sentence_embedding'],
          opset,
        };
      },
      { overwrite },
    );
  } finally {
    progress.done();
  }
  return result!;
}
