import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  checkShardSet,
  fileFingerprint,
  mergeShards,
  parseShardSpec,
  streamTextRecords,
} from '../../data/shards.js';
import { npyFloat32Header } from '../../data/npy.js';
import { writeVectorSidecars } from '../../data/vector-sidecar.js';
import type { VectorsMeta } from '../../data/vector-sidecar.js';
import { InputFormatError } from '../../errors.js';
import { PgvectorIndex } from '../../index/pgvector.js';
import { encodeShard } from '../../models/sharded-encode.js';
import type { ShardEncoder } from '../../models/sharded-encode.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { createProgress } from '../../util/progress.js';
import { optionalChoice, optionalInt, optionalString } from '../args.js';
import type { OptionValues } from '../command.js';
import { UsageError } from '../errors.js';

/** The `encode` flags of sharded encoding and merging, for the command's option spec and help. */
export const SHARD_OPTIONS = {
  shard: { type: 'string' },
  'out-dir': { type: 'string' },
  'chunk-size': { type: 'string' },
  merge: { type: 'boolean' },
  into: { type: 'string' },
  table: { type: 'string' },
  database: { type: 'string' },
  'data-dir': { type: 'string' },
} as const;

export const SHARD_HELP = `
Sharded, resumable encoding (one process or machine per shard, any job runner):
  --shard I/N          encode row r of --input only when r mod N = I; writes .npy chunks, their ids and
                       a manifest (model and corpus fingerprints, checksums) to --out-dir; a killed run
                       started again with the same flags resumes from its last complete chunk
  --out-dir DIR        the shard's directory (required with --shard)
  --chunk-size N       rows per chunk file (default 8192; rounded up to a multiple of --batch-size)
  --merge DIR...       check the shard directories given as arguments (same model and corpus, every
                       shard once, complete, checksums) and write them in input order to --output
                       OUT.npy (+ OUT.ids.txt, OUT.meta.json), or stream them --into pgvector
  --into pgvector      with --merge: load the vectors into a pgvector table (--table NAME, required;
                       --database URL for a server, else embedded in --data-dir, default OUT.pgdata)
                       and write the index reference to --output
`;

/** What a shard records for the merged `OUT.meta.json` (the model, tower and similarity of its vectors). */
export type ShardVectorsMeta = Pick<VectorsMeta, 'model' | 'tower' | 'similarity' | 'metric' | 'normalized'>;

/** Beside the shard manifest: the {@link ShardVectorsMeta} of the shard, for `--merge`. */
const SHARD_VECTORS_META = 'vectors-meta.json';

/** `encode --shard I/N --out-dir DIR`: one shard, streamed, resumable. */
export async function runShardEncode(
  values: OptionValues,
  input: string,
  encoder: ShardEncoder,
  batchSize: number | undefined,
  quiet: boolean,
  vectorsMeta?: ShardVectorsMeta,
): Promise<void> {
  const shard = parseShardSpec(String(values.shard), '--shard');
  const outDir = optionalString(values, 'out-dir');
  if (outDir === undefined) throw new UsageError('--shard needs --out-dir DIR');
  if (values.output !== undefined) throw new UsageError('--shard writes to --out-dir, not --output');
  const chunkSize = optionalInt(values, 'chunk-size', 1);
  const corpus = { file: path.basename(input), ...(await fileFingerprint(input)) };
  const manifest = await encodeShard(encoder, streamTextRecords(input), {
    shard,
    outDir,
    corpus,
    chunkSize,
    batchSize,
    quiet,
  });
  if (vectorsMeta !== undefined) {
    await writeFileAtomic(path.join(outDir, SHARD_VECTORS_META), `${JSON.stringify(vectorsMeta, null, 2)}\n`);
  }
  process.stderr.write(
    `dense-retrieval: shard ${shard.index}/${shard.count} complete: ${manifest.rows} texts in ${manifest.chunks.length} chunks -> ${outDir}\n`,
  );
}

/** `encode --merge DIR... (--output OUT.npy | --into pgvector ...)`. */
export async function runShardMerge(values: OptionValues, dirs: string[], quiet: boolean): Promise<void> {
  if (dirs.length === 0) throw new UsageError('--merge needs the shard directories as arguments');
  const output = optionalString(values, 'output');
  if (output === undefined)
    throw new UsageError('--merge needs --output (OUT.npy, or the pgvector reference with --into)');
  const into = optionalChoice(values, 'into', ['pgvector'] as const);
  const shards = await checkShardSet(dirs);
  const total = shards.reduce((sum, s) => sum + s.manifest.rows, 0);
  const dim = shards[0].manifest.dim;
  const progress = createProgress({ total, label: 'merge', unit: 'vectors', quiet });
  if (into === 'pgvector') {
    const table = optionalString(values, 'table');
    if (table === undefined) throw new UsageError('--into pgvector needs --table NAME');
    const database = optionalString(values, 'database');
    const index = await PgvectorIndex.open({
      dim,
      table,
      quiet: true,
      ...(database !== undefined
        ? { database }
        : { dataDir: optionalString(values, 'data-dir') ?? `${output}.pgdata` }),
    });
    try {
      if (index.size > 0) {
        throw new UsageError(
          `table ${table} in ${index.location} already holds ${index.size} vectors: choose another --table (nothing was changed)`,
        );
      }
      for await (const block of mergeShards(shards)) {
        await index.add(block.vectors, block.ids);
        progress.tick(block.ids.length);
      }
      progress.done();
      await index.createIndex();
      await index.save(output);
      process.stderr.write(
        `dense-retrieval: merged ${total} vectors of ${shards.length} shards into table ${table}, ${index.location} -> ${output}\n`,
      );
    } finally {
      await index.close();
    }
    return;
  }
  if (!output.endsWith('.npy'))
    throw new UsageError(`--output of --merge must be a .npy file, got ${output}`);
  await writeMergedNpy(output, shards, total, dim, (n) => progress.tick(n), await mergedMeta(shards));
  progress.done();
  process.stderr.write(
    `dense-retrieval: merged ${total} vectors of ${shards.length} shards -> ${output} [${total}, ${dim}] (+ ids)\n`,
  );
}

/**
 * Stream the merged rows into one `.npy` (and its ids file) without holding the matrix in memory: the
 * header states the final shape and the rows follow block by block, written atomically (a failed merge
 * leaves no partial output, and a killed one only a temp file the next write sweeps).
 */
async function writeMergedNpy(
  output: string,
  shards: Parameters<typeof mergeShards>[0],
  total: number,
  dim: number,
  tick: (n: number) => void,
  meta: ShardVectorsMeta,
): Promise<void> {
  const ids: string[] = [];
  const seen = new Set<string>();
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield npyFloat32Header(total, dim);
    for await (const block of mergeShards(shards)) {
      for (const id of block.ids) {
        if (seen.has(id))
          throw new InputFormatError(`duplicate id '${id}' across shards: the corpus repeats it`, output);
        seen.add(id);
      }
      ids.push(...block.ids);
      const d = block.vectors.data;
      yield new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      tick(block.ids.length);
    }
  }
  await writeFileAtomic(output, chunks());
  // The sidecars of a plain `encode` (OUT.ids.txt, OUT.meta.json), so `index build` reads them alike.
  await writeVectorSidecars(output, { ids, meta: { rows: total, dim, ...meta } });
}

/**
 * The vectors' meta the shards agree on. Shards written without one (or disagreeing: their model
 * fingerprints match, so only the recorded similarity can differ) give a meta that claims nothing: no
 * similarity, no unit length, so `index build` takes `--metric` or its default rather than a stale file's.
 */
async function mergedMeta(shards: { dir: string }[]): Promise<ShardVectorsMeta> {
  const unknown: ShardVectorsMeta = { similarity: null, metric: null, normalized: false };
  let first: string | undefined;
  for (const { dir } of shards) {
    let raw: string;
    try {
      raw = await fs.readFile(path.join(dir, SHARD_VECTORS_META), 'utf8');
    } catch {
      return unknown;
    }
    if (first !== undefined && raw !== first) return unknown;
    first = raw;
  }
  try {
    return JSON.parse(first!) as ShardVectorsMeta;
  } catch {
    return unknown;
  }
}
