import { ArgumentError, InputFormatError } from '../errors.js';
import type { CorpusDoc } from '../types.js';
import { analyzeEnglish } from './analyzer.js';
import {
  headerField,
  jsonSection,
  parseIdsSection,
  parseJsonSection,
  readContainer,
  requireSection,
  sectionBytes,
  sectionInt32,
  writeContainer,
} from './container.js';
import { checkIdText } from './validate.js';
import { TopK } from './topk.js';
import type { SearchResult } from './types.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';

/** Options of {@link Bm25Index}. */
export interface Bm25Options {
  /** Term-frequency saturation; default 0.9 (Anserini/Pyserini). */
  k1?: number;
  /** Length normalisation; default 0.4 (Anserini/Pyserini). */
  b?: number;
}

/*
 * Lucene stores each document's length in one byte (SmallFloat.intToByte4): exact below 24, then four
 * significant bits. BM25 then normalises with the decoded length, so we quantise the same way to rank as
 * Lucene does.
 */
const NUM_FREE_VALUES = 24; // 255 - longToInt4(Integer.MAX_VALUE)

function longToInt4(i: number): number {
  const numBits = 32 - Math.clz32(i);
  if (numBits < 4) return i;
  const shift = numBits - 4;
  return ((i >>> shift) & 0x07) | ((shift + 1) << 3);
}

function int4ToLong(i: number): number {
  const bits = i & 0x07;
  const shift = (i >>> 3) - 1;
  return shift === -1 ? bits : (bits | 0x08) * 2 ** shift;
}

/**
 * Lucene's `SmallFloat.intToByte4` (the stored norm byte of a document length).
 *
 * @example
 * ```ts
 * import { lengthToNormByte, normByteToLength } from 'dense-retrieval';
 * normByteToLength(lengthToNormByte(100)); // 96: what Lucene's BM25 sees for a 100-term document
 * ```
 */
export function lengthToNormByte(length: number): number {
  return length < NUM_FREE_VALUES ? length : NUM_FREE_VALUES + longToInt4(length - NUM_FREE_VALUES);
}

/**
 * Lucene's `SmallFloat.byte4ToInt` (the length BM25 sees).
 *
 * @example
 * ```ts
 * normByteToLength(lengthToNormByte(20)); // 20: lengths below 24 are exact
 * ```
 */
export function normByteToLength(b: number): number {
  return b < NUM_FREE_VALUES ? b : NUM_FREE_VALUES + int4ToLong(b - NUM_FREE_VALUES);
}

const LENGTH_TABLE = Float64Array.from({ length: 256 }, (_, i) => normByteToLength(i));

interface Postings {
  docs: number[];
  tfs: number[];
}

const BM25OPTIONS_KEYS = optionKeys<Bm25Options>({
  k1: true,
  b: true,
});

/**
 * BM25 over an English-analysed corpus, scoring like Lucene 8+/Anserini/Pyserini: idf =
 * ln(1 + (N - df + 0.5) / (df + 0.5)), term score = idf * tf / (tf + k1 * (1 - b + b * dl / avgdl)) with dl
 * the byte-quantised document length, query terms weighted by their count in the query, and documents as
 * title + ' ' + text (Pyserini's BEIR "flat" index). Written here rather than taken from npm because
 * matching Lucene's numbers needs its one-byte length quantisation and query-term boosts, which the
 * general-purpose packages (okapibm25, wink-bm25-text-search) do not model, and the scorer is short.
 *
 * @example
 * ```ts
 * import { Bm25Index } from 'dense-retrieval';
 * const bm25 = new Bm25Index(); // k1 = 0.9, b = 0.4
 * bm25.addDocuments([{ id: 'd1', title: 'Cats', text: 'Cats purr.' }, { id: 'd2', title: '', text: 'Dogs bark.' }]);
 * const { ids, scores } = bm25.search(['why do cats purr'], 1); // ids[0] = ['d1']
 * ```
 */
export class Bm25Index {
  readonly k1: number;
  readonly b: number;
  private ids: string[] = [];
  private idSet = new Set<string>();
  private norms: number[] = [];
  private sumLength = 0;
  private postings = new Map<string, Postings>();
  /** Id -> row, built on the first {@link Bm25Index.scoreDocuments} and dropped when documents are added. */
  private rowOf: Map<string, number> | undefined;

  constructor(opts: Bm25Options = {}) {
    checkOptionKeys('Bm25Index', opts, BM25OPTIONS_KEYS);
    this.k1 = opts.k1 ?? 0.9;
    this.b = opts.b ?? 0.4;
    if (!Number.isFinite(this.k1) || this.k1 < 0)
      throw new ArgumentError('k1', `must be >= 0, got ${this.k1}`);
    if (!Number.isFinite(this.b) || this.b < 0 || this.b > 1) {
      throw new ArgumentError('b', `must be in [0, 1], got ${this.b}`);
    }
  }

  /** Number of indexed documents. */
  get size(): number {
    return this.ids.length;
  }

  /**
   * Index documents (title + ' ' + text); ids must be unique, non-empty and free of whitespace (a TREC run
   * cannot carry whitespace in an id), else an {@link ArgumentError} naming the id and its position.
   */
  addDocuments(docs: CorpusDoc[]): void {
    const seen = new Set<string>();
    docs.forEach((d, i) => {
      checkIdText('docs', d.id, i);
      if (this.idSet.has(d.id) || seen.has(d.id))
        throw new ArgumentError('docs', `duplicate document id '${d.id}'`);
      seen.add(d.id);
    });
    this.rowOf = undefined;
    for (const doc of docs) {
      const row = this.ids.length;
      const contents = doc.title ? `${doc.title} ${doc.text}` : doc.text;
      const terms = analyzeEnglish(contents);
      const tf = new Map<string, number>();
      for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [t, n] of tf) {
        let p = this.postings.get(t);
        if (!p) this.postings.set(t, (p = { docs: [], tfs: [] }));
        p.docs.push(row);
        p.tfs.push(n);
      }
      this.ids.push(doc.id);
      this.idSet.add(doc.id);
      this.norms.push(lengthToNormByte(terms.length));
      this.sumLength += terms.length;
    }
  }

  /**
   * Top-`k` documents per query, best first (ties: higher id first, as trec_eval). A query returns fewer
   * than `k` documents when fewer match any of its terms, as Lucene does.
   */
  search(queries: string[], k: number, options?: Record<string, never>): SearchResult {
    // No options: a JavaScript caller passing the dense indexes' `{ filter }` must not get unfiltered results.
    if (
      options !== undefined &&
      (typeof options !== 'object' || options === null || Object.keys(options).length > 0)
    ) {
      throw new ArgumentError(
        'options',
        `Bm25Index.search takes no options (got ${typeof options === 'object' && options !== null ? Object.keys(options).join(', ') : String(options)}); filter its results afterwards`,
      );
    }
    if (!Number.isInteger(k) || k < 1) throw new ArgumentError('k', `must be a positive integer, got ${k}`);
    if (this.size === 0)
      throw new ArgumentError('index', 'cannot search an empty index (add documents first)');
    if (k > this.size)
      throw new ArgumentError('k', `k = ${k} exceeds the number of indexed documents (${this.size})`);
    const n = this.size;
    const lengthPart = this.lengthPart();
    const acc = new Float64Array(n);
    const touched = new Uint8Array(n);
    const out: SearchResult = { ids: [], scores: [] };
    for (const q of queries) {
      const qtf = new Map<string, number>();
      for (const t of analyzeEnglish(q)) qtf.set(t, (qtf.get(t) ?? 0) + 1);
      const hits: number[] = [];
      for (const [t, boost] of qtf) {
        const p = this.postings.get(t);
        if (!p) continue;
        const df = p.docs.length;
        const weight = boost * Math.log(1 + (n - df + 0.5) / (df + 0.5));
        for (let i = 0; i < df; i++) {
          const d = p.docs[i];
          const tf = p.tfs[i];
          if (!touched[d]) {
            touched[d] = 1;
            hits.push(d);
          }
          acc[d] += (weight * tf) / (tf + lengthPart[this.norms[d]]);
        }
      }
      const top = new TopK(Math.min(k, hits.length), this.ids);
      // Lucene sums in float: rounding here lets near-equal scores tie the way Lucene's do.
      for (const d of hits) top.push(Math.fround(acc[d]), d);
      const r = top.result();
      out.ids.push(r.rows.map((d) => this.ids[d]));
      out.scores.push(Float32Array.from(r.scores));
      for (const d of hits) {
        acc[d] = 0;
        touched[d] = 0;
      }
    }
    return out;
  }

  /**
   * The BM25 score of given documents for one query, as {@link Bm25Index.search} would report it (same
   * summation order and float32 rounding), whether or not they would rank in its top `k`: 0 for a document
   * sharing no term with the query. Used where a known document's score is needed, e.g. the positive of a
   * query in hard-negative mining. Output `[ids.length]`.
   *
   * @throws {ArgumentError} an id that is not indexed.
   * @example
   * ```ts
   * bm25.scoreDocuments('why do cats purr', ['d1', 'd2']); // Float32Array [score of d1, 0]
   * ```
   */
  scoreDocuments(query: string, ids: string[]): Float32Array {
    if (this.rowOf === undefined) this.rowOf = new Map(this.ids.map((id, row) => [id, row] as const));
    const rows = ids.map((id) => {
      const row = this.rowOf!.get(id);
      if (row === undefined) throw new ArgumentError('ids', `document '${id}' is not in the index`);
      return row;
    });
    const out = new Float32Array(ids.length);
    if (rows.length === 0) return out;
    const n = this.size;
    const lengthPart = this.lengthPart();
    const acc = new Float64Array(rows.length);
    const qtf = new Map<string, number>();
    for (const t of analyzeEnglish(query)) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    for (const [t, boost] of qtf) {
      const p = this.postings.get(t);
      if (!p) continue;
      const df = p.docs.length;
      const weight = boost * Math.log(1 + (n - df + 0.5) / (df + 0.5));
      rows.forEach((d, i) => {
        const at = sortedIndexOf(p.docs, d);
        if (at < 0) return;
        const tf = p.tfs[at];
        acc[i] += (weight * tf) / (tf + lengthPart[this.norms[d]]);
      });
    }
    for (let i = 0; i < rows.length; i++) out[i] = Math.fround(acc[i]);
    return out;
  }

  /** Per norm byte, the denominator's length part of BM25: k1 * (1 - b + b * dl / avgdl). */
  private lengthPart(): Float64Array {
    const avgdl = this.sumLength / this.size;
    return Float64Array.from(LENGTH_TABLE, (dl) => this.k1 * (1 - this.b + (this.b * dl) / avgdl));
  }

  /** Save atomically to one versioned file. */
  async save(path: string): Promise<void> {
    const terms = [...this.postings.keys()];
    let total = 0;
    for (const t of terms) total += this.postings.get(t)!.docs.length;
    const docs = new Int32Array(total);
    const tfs = new Int32Array(total);
    const counts = new Int32Array(terms.length);
    let o = 0;
    terms.forEach((t, i) => {
      const p = this.postings.get(t)!;
      counts[i] = p.docs.length;
      docs.set(p.docs, o);
      tfs.set(p.tfs, o);
      o += p.docs.length;
    });
    const bytes = (a: Int32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    await writeContainer(
      path,
      { kind: 'bm25', k1: this.k1, b: this.b, size: this.size, sumLength: this.sumLength, postings: total },
      {
        ids: jsonSection(this.ids),
        terms: jsonSection(terms),
        norms: Uint8Array.from(this.norms),
        counts: bytes(counts),
        docs: bytes(docs),
        tfs: bytes(tfs),
      },
    );
  }

  /**
   * Load an index written by {@link Bm25Index.save}. A bad version, a truncated file, a checksum mismatch,
   * a header field of the wrong type, and postings that do not fit the index (a document row out of range
   * or repeated, a term frequency below 1, document lengths that disagree with the postings or the stored
   * norms) are {@link InputFormatError}s naming the file.
   */
  static async load(path: string): Promise<Bm25Index> {
    const { header, sections } = await readContainer(path, 'bm25');
    const k1 = headerField.number(header, 'k1', path, 0);
    const b = headerField.number(header, 'b', path, 0, 1);
    const size = headerField.int(header, 'size', path, 0);
    const sumLength = headerField.int(header, 'sumLength', path, 0);
    const total = headerField.int(header, 'postings', path, 0);
    const ids = parseIdsSection(sections, 'ids', size, path);
    const terms = parseJsonSection(sections, 'terms', path);
    const corrupt = (what: string): InputFormatError =>
      new InputFormatError(`corrupt bm25 index: ${what}`, path);
    if (!Array.isArray(terms) || terms.some((t) => typeof t !== 'string' || t === '')) {
      throw corrupt("section 'terms' must be a list of non-empty strings");
    }
    if (new Set(terms).size !== terms.length) throw corrupt("section 'terms' repeats a term");
    const counts = sectionInt32(requireSection(sections, 'counts', path), path);
    const docs = sectionInt32(requireSection(sections, 'docs', path), path);
    const tfs = sectionInt32(requireSection(sections, 'tfs', path), path);
    const norms = sectionBytes(requireSection(sections, 'norms', path), path);
    if (norms.length !== size)
      throw corrupt(`section 'norms' has ${norms.length} entries for ${size} documents`);
    if (counts.length !== terms.length)
      throw corrupt(`section 'counts' has ${counts.length} entries for ${terms.length} terms`);
    if (docs.length !== total || tfs.length !== total) {
      throw corrupt(
        `sections 'docs'/'tfs' have ${docs.length}/${tfs.length} postings, the header says ${total}`,
      );
    }
    // Every posting is checked, so no search can index past the documents (the `null` ids a corrupt file
    // gave), and the lengths the postings imply must reproduce the stored norms and the header's sum.
    const lengths = new Float64Array(size);
    const index = new Bm25Index({ k1, b });
    let o = 0;
    for (let i = 0; i < terms.length; i++) {
      const c = counts[i];
      if (c < 1 || o + c > total) throw corrupt(`term '${terms[i]}' has an invalid posting count ${c}`);
      let prev = -1;
      for (let j = o; j < o + c; j++) {
        const d = docs[j];
        if (d <= prev || d >= size) {
          throw corrupt(`term '${terms[i]}' lists document row ${d} (out of range or out of order)`);
        }
        if (tfs[j] < 1) throw corrupt(`term '${terms[i]}' has term frequency ${tfs[j]}`);
        lengths[d] += tfs[j];
        prev = d;
      }
      index.postings.set(terms[i] as string, {
        docs: Array.from(docs.subarray(o, o + c)),
        tfs: Array.from(tfs.subarray(o, o + c)),
      });
      o += c;
    }
    if (o !== total) throw corrupt(`the posting counts sum to ${o}, the header says ${total}`);
    let sum = 0;
    for (let d = 0; d < size; d++) {
      if (lengthToNormByte(lengths[d]) !== norms[d]) {
        throw corrupt(`the norm of '${ids[d]}' does not match its postings (length ${lengths[d]})`);
      }
      sum += lengths[d];
    }
    if (sum !== sumLength) throw corrupt(`'sumLength' is ${sumLength}, the postings sum to ${sum}`);
    index.ids = ids;
    index.idSet = new Set(ids);
    index.norms = Array.from(norms);
    index.sumLength = sumLength;
    return index;
  }
}

/** Position of `value` in the ascending array `sorted` (a posting list's rows), or -1. */
function sortedIndexOf(sorted: number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] === value) return mid;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
