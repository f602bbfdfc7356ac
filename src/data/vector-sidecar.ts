import { promises as fs } from 'node:fs';
import { InputFormatError } from '../errors.js';
import { readLines } from './lines.js';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * Ids and settings travel with a `.npy` of vectors in two sidecar files, so that an index built from
 * `corpus.npy` gets the documents' ids and the model's metric, and a run searched with `queries.npy` gets
 * the queries' ids, without a flag to forget:
 *
 * - `X.ids.txt`: one id per line, line i+1 = row i (written when the texts had ids);
 * - `X.meta.json`: {@link VectorsMeta} (rows, dim, model, tower, similarity, metric, normalized, precision).
 *
 * `encode` writes both; `index build` and `index search` read them by default.
 */

/** What `X.meta.json` says about the vectors of `X.npy`. */
export interface VectorsMeta {
  format: 'dense-retrieval.vectors';
  version: 1;
  /** Rows and columns of the `.npy` (a sidecar left over from another matrix is detected by them). */
  rows: number;
  dim: number;
  /** Whether `X.ids.txt` holds the rows' ids. */
  ids: boolean;
  /** The model source the vectors came from. */
  model?: string;
  /** The tower of an untied (DPR-style) model that embedded them; absent for a tied model. */
  tower?: 'query' | 'passage';
  /** The similarity the model was trained with (`dot`, `cosine`, ...); null when the model does not say. */
  similarity: string | null;
  /** The index metric of that similarity (`ip`, `cosine`, `l2`); null when unknown. */
  metric: 'ip' | 'cosine' | 'l2' | null;
  /** Whether every vector has unit length (then `ip` and `cosine` rank alike). */
  normalized: boolean;
  /**
   * How the rows are stored: `float32` (absent in older files), or sentence-transformers' quantized codes
   * `int8` / `uint8` (one byte per dimension) and `binary` / `ubinary` (8 dimensions per byte). `dim` is
   * the embedding's dimension either way; {@link VectorsMeta.codeWidth} the `.npy`'s columns.
   */
  precision?: 'float32' | 'int8' | 'uint8' | 'binary' | 'ubinary';
  /** Columns (bytes) per row of a codes `.npy`: `dim` for int8/uint8, `ceil(dim / 8)` for (u)binary. */
  codeWidth?: number;
}

/** The sidecar paths of a vectors file: `X.npy` -> `X.ids.txt`, `X.meta.json`. */
export function vectorSidecarPaths(npyFile: string): { ids: string; meta: string } {
  const base = npyFile.replace(/\.npy$/i, '');
  return { ids: `${base}.ids.txt`, meta: `${base}.meta.json` };
}

/**
 * Ids of a text file, one per line (surrounding whitespace trimmed); blank or duplicate ids and ids with
 * inner whitespace are errors naming the line.
 *
 * @throws {InputFormatError} an empty file, a blank or a repeated id, an id with whitespace, invalid UTF-8.
 * @example
 * ```ts
 * const ids = await readIdLines('corpus.ids.txt');
 * ```
 */
export async function readIdLines(file: string): Promise<string[]> {
  const ids: string[] = [];
  const seen = new Map<string, number>();
  // The shared line reader refuses invalid UTF-8 (which would otherwise merge ids into U+FFFD).
  for await (const { text, line } of readLines(file, { keepBlank: true })) {
    const id = text.trim();
    if (id === '') throw new InputFormatError('empty id', file, line);
    // A TREC run separates columns by whitespace: such an id would fail every later search and evaluation.
    if (/\s/.test(id)) {
      throw new InputFormatError(`id ${JSON.stringify(id)} contains whitespace`, file, line);
    }
    const first = seen.get(id);
    if (first !== undefined)
      throw new InputFormatError(`duplicate id '${id}' (first on line ${first})`, file, line);
    seen.set(id, line);
    ids.push(id);
  }
  if (ids.length === 0) throw new InputFormatError('no ids', file);
  return ids;
}

/**
 * Write the sidecars of `npyFile` (atomically, each): `X.meta.json`, and `X.ids.txt` when `ids` is given.
 *
 * @example
 * ```ts
 * await writeVectorSidecars('corpus.npy', { ids: ['d1', 'd2'], meta: { rows: 2, dim: 384, ... } });
 * ```
 */
export async function writeVectorSidecars(
  npyFile: string,
  sidecar: { ids?: string[]; meta: Omit<VectorsMeta, 'format' | 'version' | 'ids'> },
): Promise<void> {
  const paths = vectorSidecarPaths(npyFile);
  if (sidecar.ids !== undefined) {
    if (sidecar.ids.length !== sidecar.meta.rows) {
      throw new InputFormatError(`${sidecar.ids.length} ids for ${sidecar.meta.rows} rows`, paths.ids);
    }
    await writeFileAtomic(paths.ids, sidecar.ids.map((id) => `${id}\n`).join(''));
  }
  const meta: VectorsMeta = {
    format: 'dense-retrieval.vectors',
    version: 1,
    ...sidecar.meta,
    ids: sidecar.ids !== undefined,
  };
  await writeFileAtomic(paths.meta, `${JSON.stringify(meta, null, 2)}\n`);
}

/**
 * The `X.meta.json` of `npyFile`, checked against the matrix's shape; `undefined` when there is none.
 *
 * @throws {InputFormatError} invalid JSON, or a sidecar whose rows/dim are not the matrix's (a left-over).
 */
export async function readVectorsMeta(
  npyFile: string,
  shape: { rows: number; cols: number },
): Promise<VectorsMeta | undefined> {
  const file = vectorSidecarPaths(npyFile).meta;
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let meta: VectorsMeta;
  try {
    meta = JSON.parse(raw) as VectorsMeta;
  } catch (error) {
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file);
  }
  if (meta === null || typeof meta !== 'object' || meta.format !== 'dense-retrieval.vectors') {
    throw new InputFormatError('not a dense-retrieval vectors sidecar', file);
  }
  // Codes are narrower than the embedding (8 dimensions per byte for binary): their width is recorded apart.
  const cols = typeof meta.codeWidth === 'number' ? meta.codeWidth : meta.dim;
  if (meta.rows !== shape.rows || cols !== shape.cols) {
    throw new InputFormatError(
      `describes [${meta.rows}, ${cols}] vectors but ${npyFile} is [${shape.rows}, ${shape.cols}]; ` +
        'it belongs to other vectors: re-run encode, or delete it',
      file,
    );
  }
  return meta;
}

/**
 * The ids of the rows of `npyFile` from its `X.ids.txt` sidecar, when its `X.meta.json` says it has one (or
 * there is no meta file but an ids file); `undefined` when there are none.
 *
 * @throws {InputFormatError} an ids sidecar with the wrong number of ids, or bad lines.
 */
export async function readVectorIds(
  npyFile: string,
  shape: { rows: number; cols: number },
  meta?: VectorsMeta,
): Promise<string[] | undefined> {
  const file = vectorSidecarPaths(npyFile).ids;
  if (meta !== undefined && !meta.ids) return undefined;
  try {
    await fs.access(file);
  } catch {
    if (meta?.ids) throw new InputFormatError(`missing (its .meta.json says the ids are there)`, file);
    return undefined;
  }
  const ids = await readIdLines(file);
  if (ids.length !== shape.rows) {
    throw new InputFormatError(`has ${ids.length} ids but ${npyFile} has ${shape.rows} rows`, file);
  }
  return ids;
}
