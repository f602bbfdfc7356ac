import { promises as fs } from 'node:fs';
import path from 'node:path';
import { pickHubOptions, resolveModelSource } from '../checkpoint/hub.js';
import { readRouterRoutes } from '../checkpoint/sentence-transformers.js';
import { loadModel, SCRATCH_PREFIX } from './load.js';
import { LOAD_MODEL_KEYS } from './transformer-loader.js';
import type { LoadModelOptions } from './load.js';
import { ArgumentError, InputFormatError } from '../errors.js';
import type { Similarity } from '../losses/in-batch-negatives.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { BI_ENCODER_CONFIG, BiEncoder } from './bi-encoder.js';
import type { BiEncoderConfig } from './bi-encoder.js';
import type { SentenceEncoder } from './sentence-encoder.js';

/** Options of {@link loadRetrievalModel}: those of `loadModel` (applied to each tower) plus a similarity. */
export interface LoadRetrievalModelOptions extends Omit<LoadModelOptions, 'route'> {
  /** Override the saved similarity (default: the model's own, else `dot`). */
  similarity?: Similarity;
}

// The keys of loadModel's options (but `route`: both towers are loaded) and `similarity`.
const OPTION_KEYS: readonly string[] = [
  ...LOAD_MODEL_KEYS.filter((k) => k !== 'route'),
  ...optionKeys<Pick<LoadRetrievalModelOptions, 'similarity'>>({ similarity: true }),
];

/**
 * Load any retrieval model as a {@link BiEncoder}: a directory written by `BiEncoder.save` (tied, or untied
 * DPR-style with a query and a passage tower), a plain sentence-transformers or Hugging Face directory, a
 * hub id (tied), or `scratch:<config.json>` (tied, random init). Every CLI command that runs a model loads
 * it here, so a new on-disk format needs to be taught to this function only.
 *
 * The similarity is `options.similarity`, else the saved one (`bi_encoder.json` or sentence-transformers'
 * `similarity_fn_name`), else `dot` (then `model.similarityIsDefault` is true). The load options
 * (`pooling`, `normalize`, `maxSeqLength`, ...) apply to every tower. The caller owns the model
 * (`model.dispose()`).
 *
 * @throws {InputFormatError} malformed model files; {@link ArgumentError} unknown option keys.
 * @example
 * ```ts
 * import { initBackend, loadRetrievalModel } from 'dense-retrieval';
 *
 * await initBackend();
 * const model = await loadRetrievalModel('runs/untied'); // train --untied output
 * const q = await model.encodeQueries(['what is dense retrieval?']);
 * const d = await model.encodePassages(['Dense retrieval embeds queries and passages.']);
 * model.similarity; // 'dot' or 'cosine', as trained
 * model.dispose();
 * ```
 */
export async function loadRetrievalModel(
  source: string,
  options: LoadRetrievalModelOptions = {},
): Promise<BiEncoder<SentenceEncoder>> {
  checkOptionKeys('loadRetrievalModel', options, OPTION_KEYS);
  if (typeof source !== 'string' || source === '') {
    throw new ArgumentError('source', 'expected a model directory, hub id or scratch:<config.json>');
  }
  const { similarity, ...loadOptions } = options;
  if (source.startsWith(SCRATCH_PREFIX)) {
    const encoder = await loadModel(source, loadOptions);
    return BiEncoder.tied(encoder, { similarity });
  }
  const dir = await resolveModelSource(source, pickHubOptions(loadOptions));
  return BiEncoder.load<SentenceEncoder>(dir, {
    similarity,
    loadEncoder: (d) => loadModel(d, loadOptions),
    loadRoute: (d, route) => loadModel(d, { ...loadOptions, route }),
  });
}

/** Which tower of a bi-encoder embeds a text file: queries or passages (the corpus). */
export type Tower = 'query' | 'passage';

/**
 * The encoder of one tower. A tied model has one encoder for both, so `tower` may be omitted; an untied
 * model needs it.
 *
 * @throws {ArgumentError} `tower` missing for an untied model.
 * @example
 * ```ts
 * const encoder = towerEncoder(model, 'passage');
 * ```
 */
export function towerEncoder<E extends SentenceEncoder>(model: BiEncoder<E>, tower?: Tower): E {
  if (tower === undefined) {
    if (!model.tied) {
      throw new ArgumentError(
        'tower',
        "the model has separate query and passage towers (untied); say which one: 'query' or 'passage'",
      );
    }
    return model.queryEncoder;
  }
  if (tower !== 'query' && tower !== 'passage') {
    throw new ArgumentError('tower', `must be 'query' or 'passage', got '${String(tower)}'`);
  }
  return tower === 'query' ? model.queryEncoder : model.passageEncoder;
}

/**
 * The model source of one tower, without loading weights (for the tokenizer alone): `source` itself for a
 * tied model, a sentence-transformers directory, a hub id or `scratch:`; the tower's directory for an
 * untied bi-encoder directory, which needs `tower`; for a sentence-transformers `Router` model (an untied
 * model saved by this library), `source` plus the route (`query` or `document`) to pass to `loadTokenizerFor`. Kept next to {@link loadRetrievalModel} so that the
 * on-disk format is known in one file.
 *
 * @throws {ArgumentError} `tower` missing for an untied model; {@link InputFormatError} a bad `bi_encoder.json`.
 * @example
 * ```ts
 * const { source, route } = await towerSource('runs/untied', 'query');
 * const { tokenizer } = await loadTokenizerFor(source, { route });
 * ```
 */
export async function towerSource(
  source: string,
  tower?: Tower,
): Promise<{ source: string; route?: string }> {
  const router = await readRouterRoutes(source).catch(() => undefined);
  if (router !== undefined) {
    if (tower === undefined) {
      throw new ArgumentError(
        'tower',
        "the model has separate query and passage towers (untied); say which one: 'query' or 'passage'",
      );
    }
    return { source, route: tower === 'query' ? 'query' : 'document' };
  }
  const file = path.join(source, BI_ENCODER_CONFIG);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return { source }; // not a bi-encoder directory (or not a directory at all)
  }
  let config: BiEncoderConfig;
  try {
    config = JSON.parse(text) as BiEncoderConfig;
  } catch (error) {
    throw new InputFormatError(`invalid JSON: ${(error as Error).message}`, file);
  }
  if (config.tied) return { source };
  if (tower === undefined) {
    throw new ArgumentError(
      'tower',
      "the model has separate query and passage towers (untied); say which one: 'query' or 'passage'",
    );
  }
  return { source: path.join(source, tower === 'query' ? config.query : config.passage) };
}
