import { truncateEmbeddings } from '../util/truncate.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError, InputFormatError } from '../errors.js';
import type { Similarity } from '../losses/in-batch-negatives.js';
import type { TrainableEncoder } from '../losses/types.js';
import type { Matrix } from '../types.js';
import { loadModel } from './load.js';
import { assertFiniteRows } from './sentence-encoder.js';
import type { SentenceEncoder } from './sentence-encoder.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptionKeys } from '../util/options.js';
import { safeRelative, verifyModelDir, writeModelDir } from '../checkpoint/model-dir.js';
import type { SaveOptions } from '../checkpoint/model-dir.js';
import {
  readRouterRoutes,
  ROUTER_CONFIG,
  writeSimilarityFnName,
} from '../checkpoint/sentence-transformers.js';
import { isRouteEncoder, saveAsRouter } from './modules/router.js';
import type { EngineChoice } from '../engines/types.js';

/**
 * A DPR-style bi-encoder: a query tower and a passage tower (the same encoder when tied) and the similarity
 * that compares their embeddings. It is what the Trainer trains and what gets saved.
 */

/** An encoder a {@link BiEncoder} can hold: trainable, and optionally saveable (`SentenceEncoder` is both). */
export interface TowerEncoder extends TrainableEncoder {
  /** Write the encoder to `dir` (sentence-transformers layout for `SentenceEncoder`). */
  save?(dir: string, options?: SaveOptions): Promise<void>;
  /** Batched inference; when absent, {@link BiEncoder} embeds in batches itself. */
  encode?(
    texts: string[],
    options?: { batchSize?: number; quiet?: boolean; engine?: EngineChoice; truncateDim?: number },
  ): Promise<Matrix>;
  /** Inference with the tower's `query` prompt (`SentenceEncoder.encodeQuery`); used for queries when present. */
  encodeQuery?(
    texts: string[],
    options?: { batchSize?: number; quiet?: boolean; engine?: EngineChoice; truncateDim?: number },
  ): Promise<Matrix>;
  /** Inference with the tower's `document`/`passage` prompt; used for passages when present. */
  encodeDocument?(
    texts: string[],
    options?: { batchSize?: number; quiet?: boolean; engine?: EngineChoice; truncateDim?: number },
  ): Promise<Matrix>;
  dispose?(): void;
}

/** Options of {@link BiEncoder.encodeQueries} and {@link BiEncoder.encodePassages}. */
export interface TowerEncodeOptions {
  /** Texts per forward pass (default 32). */
  batchSize?: number;
  /** No progress bar. */
  quiet?: boolean;
  /** Matryoshka truncation: keep the first `truncateDim` dimensions (re-normalised if the tower normalises). */
  truncateDim?: number;
  /** Where inference runs (`SentenceEncoder` towers; see {@link EncodeOptions.engine}); default the tower's. */
  engine?: EngineChoice;
}

/** Contents of `bi_encoder.json`, written next to the towers by {@link BiEncoder.save}. */
export interface BiEncoderConfig {
  format: 'dense-retrieval.bi-encoder';
  version: 1;
  tied: boolean;
  similarity: Similarity;
  /** Tower directories relative to the saved directory (`.` for a tied model). */
  query: string;
  passage: string;
}

export const BI_ENCODER_CONFIG = 'bi_encoder.json';

/** Options of {@link BiEncoder.tied} and {@link BiEncoder.untied}. */
export interface BiEncoderOptions {
  /**
   * How queries and passages are compared: `dot` (DPR) or `cosine`. Default: the towers' own
   * `similarity` (a `SentenceEncoder` loaded from a model saved with one, sentence-transformers'
   * `similarity_fn_name`), else `dot`.
   */
  similarity?: Similarity;
}

/**
 * The similarity a tower records (a `SentenceEncoder`'s `similarity_fn_name`), as a bi-encoder similarity;
 * `undefined` when it records none. `euclidean`/`manhattan` cannot be trained or scored by a bi-encoder.
 */
function towerSimilarity(encoder: TowerEncoder, file?: string): Similarity | undefined {
  const s = (encoder as { similarity?: unknown }).similarity;
  if (s === undefined || s === null) return undefined;
  if (s === 'dot' || s === 'cosine') return s;
  const message = `similarity_fn_name '${String(s)}' is not supported by a bi-encoder (dot, cosine)`;
  throw file === undefined ? new ArgumentError('similarity', message) : new InputFormatError(message, file);
}

function resolveSimilarity(
  query: TowerEncoder,
  passage: TowerEncoder,
  options: BiEncoderOptions,
): { similarity: Similarity; isDefault: boolean } {
  checkOptionKeys('BiEncoder', options, ['similarity']);
  if (options.similarity !== undefined) return { similarity: options.similarity, isDefault: false };
  const q = towerSimilarity(query);
  const p = towerSimilarity(passage);
  if (q !== undefined && p !== undefined && q !== p) {
    throw new ArgumentError('similarity', `the query tower says ${q} but the passage tower ${p}; give one`);
  }
  const recorded = q ?? p;
  return recorded === undefined
    ? { similarity: 'dot', isDefault: true }
    : { similarity: recorded, isDefault: false };
}

/**
 * Query and passage towers plus a similarity. Tied: one encoder embeds both (sentence-transformers style).
 * Untied: two encoders (DPR's setup).
 *
 * Saved layout: a tied model is one sentence-transformers directory (plus `bi_encoder.json`), loadable by
 * `encode` as is; an untied model is `query/` and `passage/` sub-directories, each a sentence-transformers
 * directory, with `bi_encoder.json` saying which is which.
 *
 * @example
 * ```ts
 * const encoder = await SentenceEncoder.load('sentence-transformers/all-MiniLM-L6-v2');
 * const model = BiEncoder.tied(encoder, { similarity: 'cosine' });
 * await model.save('out/model');
 * const again = await BiEncoder.load('out/model'); // towers through loadModel
 * ```
 */
export class BiEncoder<E extends TowerEncoder = TowerEncoder> {
  readonly queryEncoder: E;
  readonly passageEncoder: E;
  /** The similarity training uses and the one saved with the model (the default metric of every index). */
  readonly similarity: Similarity;
  /**
   * True when nothing chose the similarity (no option, nothing recorded in the towers or the saved model)
   * and it is the `dot` default; callers then do not warn about a different metric.
   */
  readonly similarityIsDefault: boolean;

  private constructor(query: E, passage: E, options: BiEncoderOptions) {
    const { similarity, isDefault } = resolveSimilarity(query, passage, options);
    if (similarity !== 'dot' && similarity !== 'cosine') {
      throw new ArgumentError('similarity', `must be 'dot' or 'cosine', got '${String(similarity)}'`);
    }
    this.queryEncoder = query;
    this.passageEncoder = passage;
    this.similarity = similarity;
    this.similarityIsDefault = isDefault;
  }

  /** One encoder for both queries and passages. */
  static tied<E extends TowerEncoder>(encoder: E, options: BiEncoderOptions = {}): BiEncoder<E> {
    return new BiEncoder(encoder, encoder, options);
  }

  /** Separate query and passage encoders (they must not share variables). */
  static untied<E extends TowerEncoder>(query: E, passage: E, options: BiEncoderOptions = {}): BiEncoder<E> {
    if (query === passage)
      throw new ArgumentError('passage', 'is the query encoder itself; use BiEncoder.tied');
    return new BiEncoder(query, passage, options);
  }

  /** Whether one encoder serves both towers. */
  get tied(): boolean {
    return this.queryEncoder === this.passageEncoder;
  }

  /** Variables of both towers, each once. */
  trainableVariables(): tf.Variable[] {
    return [
      ...new Set([...this.queryEncoder.trainableVariables(), ...this.passageEncoder.trainableVariables()]),
    ];
  }

  /**
   * Similarity matrix `[queries, passages]` of embeddings, by this model's similarity. The caller owns the
   * result.
   */
  score(queries: tf.Tensor2D, passages: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const norm = (x: tf.Tensor2D) =>
        this.similarity === 'cosine' ? tf.div(x, tf.maximum(tf.norm(x, 'euclidean', -1, true), 1e-12)) : x;
      return tf.matMul(norm(queries), norm(passages), false, true) as tf.Tensor2D;
    });
  }

  /**
   * Inference embeddings of queries (no dropout), as a plain matrix; a `SentenceEncoder` tower applies its
   * `query` prompt (`encodeQuery`), as training does.
   */
  encodeQueries(texts: string[], options: TowerEncodeOptions = {}): Promise<Matrix> {
    checkOptionKeys('encodeQueries', options, ['batchSize', 'quiet', 'truncateDim', 'engine']);
    return encodeWith(this.queryEncoder, texts, options, 'query');
  }

  /**
   * Inference embeddings of passages (no dropout), as a plain matrix; a `SentenceEncoder` tower applies its
   * `document` (or `passage`) prompt (`encodeDocument`), as training does.
   */
  encodePassages(texts: string[], options: TowerEncodeOptions = {}): Promise<Matrix> {
    checkOptionKeys('encodePassages', options, ['batchSize', 'quiet', 'truncateDim', 'engine']);
    return encodeWith(this.passageEncoder, texts, options, 'passage');
  }

  /**
   * Save to `dir` as one unit with a manifest checked on load (see {@link writeModelDir}). Tied: the encoder
   * plus `bi_encoder.json`. Untied SentenceEncoder towers: one sentence-transformers model with a `Router`
   * module (`query` and `document` routes; see `saveAsRouter`), which Python loads. Other untied towers:
   * `query/`, `passage/` and `bi_encoder.json`. Other files in `dir` (a training log, checkpoints) are kept
   * unless `options.overwrite` is `'replace'`. The similarity is written to `bi_encoder.json` and, as
   * `similarity_fn_name`, to the `config_sentence_transformers.json` of the model (or of each tower), so
   * sentence-transformers and every command of this library use it.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    if (!this.tied && isRouteEncoder(this.queryEncoder) && isRouteEncoder(this.passageEncoder)) {
      return saveAsRouter(this, dir, options);
    }
    const saveTower = (encoder: E, which: string) => {
      if (typeof encoder.save !== 'function') {
        throw new ArgumentError(which, 'encoder has no save(); it cannot be written as a model directory');
      }
      return encoder.save.bind(encoder);
    };
    const config: BiEncoderConfig = {
      format: 'dense-retrieval.bi-encoder',
      version: 1,
      tied: this.tied,
      similarity: this.similarity,
      query: this.tied ? '.' : 'query',
      passage: this.tied ? '.' : 'passage',
    };
    const saveQuery = saveTower(this.queryEncoder, 'queryEncoder');
    const savePassage = this.tied ? undefined : saveTower(this.passageEncoder, 'passageEncoder');
    await writeModelDir(
      dir,
      async (tmp) => {
        if (savePassage === undefined) {
          await saveQuery(tmp);
          // The manifest of `dir` is computed after this, over the edited file.
          await writeSimilarityFnName(tmp, this.similarity);
        } else {
          for (const [save, sub] of [
            [saveQuery, 'query'],
            [savePassage, 'passage'],
          ] as const) {
            // A tower of its own model directory: its manifest must cover the similarity written into it.
            await writeModelDir(path.join(tmp, sub), async (towerDir) => {
              await save(towerDir);
              await writeSimilarityFnName(towerDir, this.similarity);
            });
          }
        }
        await writeFileAtomic(path.join(tmp, BI_ENCODER_CONFIG), JSON.stringify(config, null, 2) + '\n');
      },
      options,
    );
  }

  /**
   * Load a directory written by {@link BiEncoder.save}. A plain sentence-transformers directory without
   * `bi_encoder.json` loads as a tied model. The similarity is `options.similarity`, else the saved one
   * (`bi_encoder.json`, or the `similarity_fn_name` of a sentence-transformers directory), else `dot`.
   * Towers load with `loadModel` unless `options.loadEncoder` says otherwise. To load any model source
   * (hub id, `scratch:`) with load options, use `loadRetrievalModel`.
   *
   * @throws {InputFormatError} a malformed `bi_encoder.json`, or one whose similarity disagrees with the
   *   towers' `similarity_fn_name`.
   */
  static async load<E extends TowerEncoder = SentenceEncoder>(
    dir: string,
    options: {
      loadEncoder?: (dir: string) => Promise<E>;
      /** Loads one route of a Router model (default `loadModel(dir, { quiet: true, route })`). */
      loadRoute?: (dir: string, route: string) => Promise<E>;
      similarity?: Similarity;
    } = {},
  ): Promise<BiEncoder<E>> {
    checkOptionKeys('BiEncoder.load', options, ['loadEncoder', 'loadRoute', 'similarity']);
    const loadEncoder =
      options.loadEncoder ?? ((d: string) => loadModel(d, { quiet: true }) as unknown as Promise<E>);
    const loadRoute =
      options.loadRoute ??
      ((d: string, route: string) => loadModel(d, { quiet: true, route }) as unknown as Promise<E>);
    const router = await readRouterRoutes(dir);
    if (router !== undefined) {
      // A sentence-transformers Router model (what saveAsRouter writes): its query and document routes.
      const missing = ['query', 'document'].filter((r) => !router.routes.includes(r));
      if (missing.length > 0) {
        throw new InputFormatError(
          `a Router without a ${missing.join(' or ')} route (routes: ${router.routes.join(', ')}) is not a bi-encoder`,
          path.join(dir, ROUTER_CONFIG),
        );
      }
      // Both routes read the Router's similarity_fn_name; BiEncoder resolves it against `options.similarity`.
      const towers: E[] = [];
      try {
        for (const route of ['query', 'document']) {
          towers.push(await loadRoute(dir, route));
          towerSimilarity(towers[towers.length - 1], path.join(dir, 'config_sentence_transformers.json'));
        }
        return BiEncoder.untied(towers[0], towers[1], { similarity: options.similarity });
      } catch (error) {
        for (const t of towers) t.dispose?.();
        throw error;
      }
    }
    const file = path.join(dir, BI_ENCODER_CONFIG);
    let text: string | undefined;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text === undefined) {
      const encoder = await loadEncoder(dir);
      try {
        towerSimilarity(encoder, path.join(dir, 'config_sentence_transformers.json'));
        return BiEncoder.tied(encoder, { similarity: options.similarity });
      } catch (error) {
        encoder.dispose?.();
        throw error;
      }
    }
    // The towers check their own manifests; this one covers bi_encoder.json and the pairing of the towers.
    await verifyModelDir(dir);
    let config: BiEncoderConfig;
    try {
      config = JSON.parse(text) as BiEncoderConfig;
    } catch (error) {
      throw new InputFormatError(`invalid JSON: ${(error as Error).message}`, file);
    }
    if (config.format !== 'dense-retrieval.bi-encoder' || config.version !== 1) {
      throw new InputFormatError(`not a bi-encoder config (format '${String(config.format)}')`, file);
    }
    if (config.similarity !== 'dot' && config.similarity !== 'cosine') {
      throw new InputFormatError(
        `similarity must be 'dot' or 'cosine', got '${String(config.similarity)}'`,
        file,
      );
    }
    for (const key of ['query', 'passage'] as const) {
      if (!config.tied && !safeRelative(config[key])) {
        throw new InputFormatError(
          `"${key}" must be a folder inside the model directory, got ${JSON.stringify(config[key])}`,
          file,
        );
      }
    }
    const similarity = options.similarity ?? config.similarity;
    const towers: E[] = [];
    try {
      for (const sub of config.tied ? ['.'] : [config.query, config.passage]) {
        const encoder = await loadEncoder(path.join(dir, sub));
        towers.push(encoder);
        const recorded = towerSimilarity(encoder, path.join(dir, sub, 'config_sentence_transformers.json'));
        if (recorded !== undefined && recorded !== config.similarity) {
          throw new InputFormatError(
            `similarity '${config.similarity}' disagrees with similarity_fn_name '${recorded}' of ` +
              `${path.join(dir, sub, 'config_sentence_transformers.json')}; make them the same`,
            file,
          );
        }
      }
      return config.tied
        ? BiEncoder.tied(towers[0], { similarity })
        : BiEncoder.untied(towers[0], towers[1], { similarity });
    } catch (error) {
      for (const t of towers) t.dispose?.();
      throw error;
    }
  }

  /** Free both towers. */
  dispose(): void {
    this.queryEncoder.dispose?.();
    if (!this.tied) this.passageEncoder.dispose?.();
  }
}

/** A tower's inference embeddings; Matryoshka `truncateDim` cuts them (re-normalised if the tower normalises). */
async function encodeWith(
  encoder: TowerEncoder,
  texts: string[],
  options: TowerEncodeOptions,
  role: 'query' | 'passage',
): Promise<Matrix> {
  const { truncateDim, ...rest } = options;
  // A SentenceEncoder truncates itself, to its saved truncate_dim unless told a width.
  if ('truncateDim' in encoder) return encodeFull(encoder, texts, options, role);
  const full = await encodeFull(encoder, texts, rest, role);
  if (truncateDim === undefined) return full;
  return truncateEmbeddings(full, truncateDim, (encoder as { normalize?: boolean }).normalize === true);
}

async function encodeFull(
  encoder: TowerEncoder,
  texts: string[],
  options: TowerEncodeOptions,
  role: 'query' | 'passage',
): Promise<Matrix> {
  // A tower's own encode may refuse keys it does not know: pass `engine` only when one was asked for.
  const { engine, ...rest } = options;
  const opts = engine === undefined ? rest : { ...rest, engine };
  // The role's prompt, as the Trainer applies it (SentenceEncoder: the model's query / document prompt).
  const byRole = role === 'query' ? encoder.encodeQuery : encoder.encodeDocument;
  if (typeof byRole === 'function') return byRole.call(encoder, texts, opts);
  if (typeof encoder.encode === 'function') return encoder.encode(texts, opts);
  const batchSize = options.batchSize ?? 32;
  let cols = 0;
  const parts: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += batchSize) {
    const emb = encoder.embed(texts.slice(i, i + batchSize), { training: false });
    cols = emb.shape[1];
    const values = (await emb.data()) as Float32Array;
    emb.dispose();
    assertFiniteRows(
      values,
      Array.from({ length: values.length / cols }, (_, j) => i + j),
      cols,
      texts,
    );
    parts.push(values);
  }
  const data = new Float32Array(texts.length * cols);
  let o = 0;
  for (const p of parts) {
    data.set(p, o);
    o += p.length;
  }
  return { data, rows: texts.length, cols };
}
