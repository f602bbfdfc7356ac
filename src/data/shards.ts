import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { ArgumentError, InputFormatError } from '../errors.js';
import type { Matrix } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { readJsonlRecords, stringField } from './jsonl.js';
import { readLines } from './lines.js';
import { readNpy } from './npy.js';

/**
 * Sharded corpus encoding on disk: a shard directory holds `.npy` chunk files, their ids, and a
 * `manifest.json` rewritten atomically after each chunk, so that a killed run resumes from its last
 * complete chunk and a merge can prove that N shards cover one corpus, once, with one model.
 *
 * Row r of the corpus (0-based, in file order) belongs to shard `r mod N`: every process can pick its
 * rows while streaming the file, shards are balanced, and a merge restores file order without storing
 * row numbers.
 */

export const SHARD_MANIFEST = 'manifest.json';
export const SHARD_FORMAT = 'dense-retrieval/encode-shard';

/** `I/N`: shard I (0-based) of N. */
export interface ShardSpec {
  index: number;
  count: number;
}

/** One chunk file of a shard. */
export interface ShardChunk {
  /** `.npy` file name inside the shard directory. */
  file: string;
  /** Its ids file (one per line, the rows' ids). */
  ids: string;
  rows: number;
  /** sha256 of the `.npy` file, checked on merge. */
  sha256: string;
}

/** Contents of `manifest.json`. */
export interface ShardManifest {
  format: typeof SHARD_FORMAT;
  version: 1;
  /** sha256 over the model's settings and weights: two shards must have been encoded by one model. */
  model: string;
  /** sha256 and byte size of the input file, and its name as given. */
  corpus: { file: string; sha256: string; bytes: number };
  shard: ShardSpec;
  /** Rows per chunk file (a multiple of the batch size, so a resumed run batches exactly as a fresh one). */
  chunkSize: number;
  batchSize: number;
  dim: number;
  chunks: ShardChunk[];
  /** Set when the shard's last row is written; `rows` is then the shard's row count. */
  complete: boolean;
  rows: number;
}

/** Parse `I/N` (`0/4` is the first of four shards). */
export function parseShardSpec(value: string, argument = 'shard'): ShardSpec {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = m === null ? NaN : Number(m[1]);
  const count = m === null ? NaN : Number(m[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count) || count < 1 || index >= count) {
    throw new ArgumentError(argument, `expected I/N with 0 <= I < N (e.g. 0/4), got '${value}'`);
  }
  return { index, count };
}

/** sha256 and size of a file, streamed. */
export async function fileFingerprint(file: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** The manifest of a shard directory, or `undefined` when there is none; malformed ones are errors. */
export async function readShardManifest(dir: string): Promise<ShardManifest | undefined> {
  const file = path.join(dir, SHARD_MANIFEST);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return undefined;
    throw error;
  }
  let m: Partial<ShardManifest>;
  try {
    m = JSON.parse(text) as Partial<ShardManifest>;
  } catch {
    throw new InputFormatError('shard manifest is not valid JSON', file);
  }
  const bad = (what: string): never => {
    throw new InputFormatError(`shard manifest: invalid '${what}'`, file);
  };
  if (m === null || typeof m !== 'object' || m.format !== SHARD_FORMAT) bad('format');
  if (m.version !== 1) bad('version');
  if (typeof m.model !== 'string') bad('model');
  const c = m.corpus;
  if (c === null || typeof c !== 'object' || typeof c.sha256 !== 'string' || !Number.isSafeInteger(c.bytes)) {
    bad('corpus');
  }
  const s = m.shard;
  if (
    s === null ||
    typeof s !== 'object' ||
    !Number.isSafeInteger(s.index) ||
    !Number.isSafeInteger(s.count) ||
    s.count < 1 ||
    s.index < 0 ||
    s.index >= s.count
  ) {
    bad('shard');
  }
  for (const key of ['chunkSize', 'batchSize', 'dim'] as const) {
    if (!Number.isSafeInteger(m[key]) || (m[key] as number) < 1) bad(key);
  }
  if (!Array.isArray(m.chunks)) bad('chunks');
  for (const ch of m.chunks!) {
    const safeName = (n: unknown): boolean =>
      typeof n === 'string' && n === path.basename(n) && n !== '..' && n !== '.';
    if (
      !safeName(ch?.file) ||
      !safeName(ch?.ids) ||
      !Number.isSafeInteger(ch.rows) ||
      typeof ch.sha256 !== 'string'
    ) {
      bad('chunks');
    }
  }
  if (typeof m.complete !== 'boolean' || !Number.isSafeInteger(m.rows)) bad('complete');
  return m as ShardManifest;
}

export async function writeShardManifest(dir: string, manifest: ShardManifest): Promise<void> {
  await writeFileAtomic(path.join(dir, SHARD_MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
}

/** Read one chunk and check its checksum and row count against the manifest. */
export async function readShardChunk(
  dir: string,
  chunk: ShardChunk,
  dim: number,
): Promise<{ vectors: Matrix; ids: string[] }> {
  const file = path.join(dir, chunk.file);
  const { sha256 } = await fileFingerprint(file);
  if (sha256 !== chunk.sha256) {
    throw new InputFormatError(
      `checksum mismatch: the chunk changed since ${SHARD_MANIFEST} was written`,
      file,
    );
  }
  const vectors = await readNpy(file);
  if (vectors.rows !== chunk.rows || vectors.cols !== dim) {
    throw new InputFormatError(
      `has [${vectors.rows}, ${vectors.cols}], the manifest says [${chunk.rows}, ${dim}]`,
      file,
    );
  }
  const idsFile = path.join(dir, chunk.ids);
  const ids = (await fs.readFile(idsFile, 'utf8')).split('\n');
  if (ids.at(-1) === '') ids.pop();
  if (ids.length !== chunk.rows) {
    throw new InputFormatError(`has ${ids.length} ids for ${chunk.rows} rows`, idsFile);
  }
  return { vectors, ids };
}

/**
 * Check that `dirs` are the complete, disjoint shards of one corpus encoded by one model, and return
 * their manifests ordered by shard index. Every problem names the directory and what differs.
 */
export async function checkShardSet(dirs: string[]): Promise<{ dir: string; manifest: ShardManifest }[]> {
  if (dirs.length === 0) throw new ArgumentError('merge', 'no shard directories given');
  const shards: { dir: string; manifest: ShardManifest }[] = [];
  for (const dir of dirs) {
    const manifest = await readShardManifest(dir);
    if (manifest === undefined)
      throw new InputFormatError(`no ${SHARD_MANIFEST}: not a shard directory`, dir);
    if (!manifest.complete) {
      throw new InputFormatError(
        `shard ${manifest.shard.index}/${manifest.shard.count} is incomplete (${manifest.rows} rows so far): run its encode again to finish it`,
        dir,
      );
    }
    shards.push({ dir, manifest });
  }
  const first = shards[0];
  for (const s of shards.slice(1)) {
    const differs = (what: string, a: unknown, b: unknown): never => {
      throw new InputFormatError(
        `was encoded with another ${what} than ${first.dir} (${String(b)} vs ${String(a)})`,
        s.dir,
      );
    };
    if (s.manifest.model !== first.manifest.model)
      differs('model', first.manifest.model.slice(0, 12), s.manifest.model.slice(0, 12));
    if (s.manifest.corpus.sha256 !== first.manifest.corpus.sha256) {
      differs('corpus', first.manifest.corpus.file, s.manifest.corpus.file);
    }
    if (s.manifest.shard.count !== first.manifest.shard.count)
      differs('shard count', first.manifest.shard.count, s.manifest.shard.count);
    if (s.manifest.dim !== first.manifest.dim) differs('dimension', first.manifest.dim, s.manifest.dim);
  }
  const count = first.manifest.shard.count;
  const byIndex = new Map<number, string>();
  for (const s of shards) {
    const other = byIndex.get(s.manifest.shard.index);
    if (other !== undefined) {
      throw new ArgumentError(
        'merge',
        `shard ${s.manifest.shard.index}/${count} is given twice (${other} and ${s.dir})`,
      );
    }
    byIndex.set(s.manifest.shard.index, s.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !byIndex.has(i));
  if (missing.length > 0) {
    throw new ArgumentError(
      'merge',
      `missing shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${count}`).join(', ')}`,
    );
  }
  shards.sort((a, b) => a.manifest.shard.index - b.manifest.shard.index);
  // Row r is shard r mod N's row floor(r / N): shard i holds ceil((total - i) / N) rows.
  const total = shards.reduce((sum, s) => sum + s.manifest.rows, 0);
  for (const s of shards) {
    const want = Math.ceil((total - s.manifest.shard.index) / count);
    if (s.manifest.rows !== want) {
      throw new InputFormatError(
        `holds ${s.manifest.rows} rows; shard ${s.manifest.shard.index}/${count} of ${total} rows must hold ${want}`,
        s.dir,
      );
    }
  }
  return shards;
}

/**
 * The merged rows of a checked shard set in corpus order, as blocks of at most `blockRows` rows; memory
 * stays at one chunk per shard.
 */
export async function* mergeShards(
  shards: { dir: string; manifest: ShardManifest }[],
  blockRows = 4096,
): AsyncGenerator<{ vectors: Matrix; ids: string[] }> {
  const count = shards.length;
  const dim = shards[0].manifest.dim;
  const total = shards.reduce((sum, s) => sum + s.manifest.rows, 0);
  const cursors = shards.map((s) => ({
    s,
    chunk: -1,
    data: undefined as { vectors: Matrix; ids: string[] } | undefined,
    pos: 0,
  }));
  let block = new Float32Array(Math.min(blockRows, total) * dim);
  let ids: string[] = [];
  for (let r = 0; r < total; r++) {
    const c = cursors[r % count];
    if (c.data === undefined || c.pos === c.data.ids.length) {
      c.chunk++;
      c.data = await readShardChunk(c.s.dir, c.s.manifest.chunks[c.chunk], dim);
      c.pos = 0;
    }
    block.set(c.data.vectors.data.subarray(c.pos * dim, (c.pos + 1) * dim), ids.length * dim);
    ids.push(c.data.ids[c.pos]);
    c.pos++;
    if (ids.length * dim === block.length || r === total - 1) {
      yield { vectors: { data: block.subarray(0, ids.length * dim), rows: ids.length, cols: dim }, ids };
      block = new Float32Array(Math.min(blockRows, total - r - 1) * dim);
      ids = [];
    }
  }
}

/**
 * Stream `{ id, text }` records of a corpus file with bounded memory: `.jsonl` (BEIR `corpus.jsonl`:
 * `_id` (or `id`), optional `title`, `text`; encoded as `title text` as BEIR does) or `.txt` (one text
 * per line; the id is the 0-based row number).
 *
 * @throws {InputFormatError} naming file and line for a record without id or text.
 */
export async function* streamTextRecords(file: string): AsyncGenerator<{ id: string; text: string }> {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.txt') {
    let row = 0;
    // Blank lines are kept as texts, as `encode` does, so that row numbers are line numbers - 1.
    for await (const { text } of readLines(file, { keepBlank: true })) yield { id: String(row++), text };
    return;
  }
  if (ext !== '.jsonl') {
    throw new ArgumentError('input', `expected a .txt (one text per line) or .jsonl file, got ${file}`);
  }
  for await (const { value, line, text: source } of readJsonlRecords(file)) {
    const rec = value as Record<string, unknown>;
    const id = stringField(
      value,
      rec !== null && typeof rec === 'object' && '_id' in rec ? '_id' : 'id',
      file,
      line,
      source,
    );
    const text = stringField(value, 'text', file, line, source);
    const title =
      rec.title === undefined || rec.title === null ? '' : stringField(value, 'title', file, line, source);
    yield { id, text: title === '' ? text : `${title} ${text}` };
  }
}
