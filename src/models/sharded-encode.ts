import type * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeNpy } from '../data/npy.js';
import { readShardManifest, SHARD_FORMAT, writeShardManifest } from '../data/shards.js';
import type { ShardManifest, ShardSpec } from '../data/shards.js';
import { ArgumentError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { createProgress } from '../util/progress.js';
import type { Matrix } from '../types.js';

/** What {@link encodeShard} needs of a model (a `SentenceEncoder` fits). */
export interface ShardEncoder {
  readonly dim: number;
  encode(
    texts: string[],
    options?: { batchSize?: number; quiet?: boolean; progress?: boolean; truncateDim?: number },
  ): Promise<Matrix>;
  /** Settings and weights that decide the embeddings, hashed into the manifest's model fingerprint. */
  trainableVariables(): tf.Variable[];
  readonly pooling?: string;
  readonly normalize?: boolean;
  readonly maxSeqLength?: number;
}

/** Options of {@link encodeShard}. */
export interface EncodeShardOptions {
  /** Which shard: row r of the input belongs to shard `r mod count`. */
  shard: ShardSpec;
  /** The shard directory (created; resumed when it holds a manifest of the same model and corpus). */
  outDir: string;
  /** The corpus's name, sha256 and size (from `fileFingerprint`): a resume must see the same corpus. */
  corpus: { file: string; sha256: string; bytes: number };
  /** Rows per chunk file; rounded up to a multiple of `batchSize`. Default 8,192. */
  chunkSize?: number;
  /** Texts per forward pass; default 32. */
  batchSize?: number;
  quiet?: boolean;
  /** Called after each chunk is durable (for progress reporting by the caller). */
  onChunk?: (manifest: ShardManifest) => void;
}

/**
 * sha256 over what decides a model's embeddings: pooling, normalisation, maximum length, dimension,
 * and every weight (shape and float32 bytes, in order). Two shards merge only when this is equal.
 */
export function modelFingerprint(encoder: ShardEncoder): string {
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify({
      dim: encoder.dim,
      pooling: encoder.pooling,
      normalize: encoder.normalize,
      maxSeqLength: encoder.maxSeqLength,
    }),
  );
  for (const v of encoder.trainableVariables()) {
    // Shapes and values in order, not tfjs variable names: those carry a per-process model counter.
    hash.update(JSON.stringify(v.shape));
    const data = v.dataSync() as Float32Array;
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

/**
 * Encode shard `I` of `N` of a corpus streamed from `records` into `.npy` chunk files plus ids and an
 * atomically rewritten `manifest.json` in `outDir`. Memory stays at one chunk of texts and vectors,
 * whatever the corpus size. A run killed at any point resumes from its last complete chunk: chunks are
 * whole multiples of the batch size and each is encoded by one `encode` call, so a resumed shard is
 * byte-identical to an uninterrupted one. A manifest of another model, corpus, shard or chunk size in
 * `outDir` is refused (`ArgumentError` naming what differs); nothing in it is deleted.
 *
 * @returns the final (complete) manifest.
 * @example
 * ```ts
 * const corpus = { file: 'corpus.jsonl', ...(await fileFingerprint('corpus.jsonl')) };
 * await encodeShard(encoder, readCorpusRecords('corpus.jsonl'), { shard: { index: 0, count: 4 }, outDir: 'enc/0', corpus });
 * // ... shards 1-3 on other machines, then: dense-retrieval encode --merge enc/0 enc/1 enc/2 enc/3 --output all.npy
 * ```
 */
export async function encodeShard(
  encoder: ShardEncoder,
  records: AsyncIterable<{ id: string; text: string }>,
  options: EncodeShardOptions,
): Promise<ShardManifest> {
  const batchSize = options.batchSize ?? 32;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArgumentError('batchSize', `must be a positive integer, got ${batchSize}`);
  const wanted = options.chunkSize ?? 8192;
  if (!Number.isInteger(wanted) || wanted < 1)
    throw new ArgumentError('chunkSize', `must be a positive integer, got ${wanted}`);
  const chunkSize = Math.ceil(wanted / batchSize) * batchSize;
  const { shard, outDir } = options;
  const model = modelFingerprint(encoder);
  await fs.mkdir(outDir, { recursive: true });
  const previous = await readShardManifest(outDir);
  let manifest: ShardManifest;
  if (previous !== undefined) {
    const differs = (what: string, was: unknown, now: unknown): never => {
      throw new ArgumentError(
        'outDir',
        `${outDir} holds a shard encoded with another ${what} (${String(was)}, now ${String(now)}): use a new directory (nothing was changed)`,
      );
    };
    if (previous.model !== model) differs('model', previous.model.slice(0, 12), model.slice(0, 12));
    if (previous.corpus.sha256 !== options.corpus.sha256)
      differs('corpus', previous.corpus.file, options.corpus.file);
    if (previous.shard.index !== shard.index || previous.shard.count !== shard.count) {
      differs('shard', `${previous.shard.index}/${previous.shard.count}`, `${shard.index}/${shard.count}`);
    }
    if (previous.chunkSize !== chunkSize) differs('chunk size', previous.chunkSize, chunkSize);
    if (previous.batchSize !== batchSize) differs('batch size', previous.batchSize, batchSize);
    manifest = previous;
    if (manifest.complete) return manifest;
  } else {
    manifest = {
      format: SHARD_FORMAT,
      version: 1,
      model,
      corpus: options.corpus,
      shard,
      chunkSize,
      batchSize,
      dim: encoder.dim,
      chunks: [],
      complete: false,
      rows: 0,
    };
  }
  const skip = manifest.rows;
  const progress = createProgress({
    label: `encode shard ${shard.index}/${shard.count}`,
    unit: 'texts',
    quiet: options.quiet,
  });
  let local = 0;
  let texts: string[] = [];
  let ids: string[] = [];
  const flush = async (): Promise<void> => {
    // Full width (the manifest's dim), whatever truncate_dim the model was saved with.
    const vectors = await encoder.encode(texts, {
      batchSize,
      quiet: true,
      progress: false,
      truncateDim: encoder.dim,
    });
    const k = manifest.chunks.length;
    const name = `chunk-${String(k).padStart(6, '0')}`;
    await writeNpy(path.join(outDir, `${name}.npy`), vectors);
    await writeFileAtomic(path.join(outDir, `${name}.ids.txt`), `${ids.join('\n')}\n`);
    const sha256 = createHash('sha256')
      .update(await fs.readFile(path.join(outDir, `${name}.npy`)))
      .digest('hex');
    manifest.chunks.push({ file: `${name}.npy`, ids: `${name}.ids.txt`, rows: texts.length, sha256 });
    manifest.rows += texts.length;
    // The manifest is written last: a kill before this line leaves the chunk unlisted, and the resumed
    // run writes it again.
    await writeShardManifest(outDir, manifest);
    progress.tick(texts.length);
    options.onChunk?.(manifest);
    texts = [];
    ids = [];
  };
  let row = 0;
  for await (const record of records) {
    const mine = row % shard.count === shard.index;
    row++;
    if (!mine) continue;
    if (local++ < skip) continue;
    texts.push(record.text);
    ids.push(record.id);
    if (texts.length === chunkSize) await flush();
  }
  if (texts.length > 0) await flush();
  manifest.complete = true;
  await writeShardManifest(outDir, manifest);
  progress.done();
  return manifest;
}
