import { ArgumentError, InputFormatError } from '../errors.js';
import { rankDocuments } from '../eval/metrics.js';
import type { Run } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { parseDecimal } from '../util/number.js';
import { assertTrecId, readLines } from './lines.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';

/** Options of {@link writeRun}. */
export interface WriteRunOptions {
  /** Run tag written in the last column (no whitespace). Default `dense-retrieval`. */
  tag?: string;
  /** Keep at most this many documents per query (the best ones). Default: all. */
  depth?: number;
}

const WRITERUNOPTIONS_KEYS = optionKeys<WriteRunOptions>({
  tag: true,
  depth: true,
});

/**
 * Read a TREC run file: `qid Q0 docid rank score tag`, whitespace separated. The rank column is ignored,
 * as trec_eval does: documents are ranked by score (see `rankDocuments`). Blank lines and lines starting
 * with `#` are skipped.
 *
 * @throws {InputFormatError} naming file and line for a line without exactly 6 fields, a score that is
 *   not a finite decimal number (`0x1f`, `0b11`,
 *   `Infinity` are refused, see `parseDecimal`), a document listed twice for the same query, or an empty file.
 * @example
 * ```ts
 * const run = await readRun('bm25.run');
 * console.log(run.get('1')?.get('31715818')); // the document's score
 * ```
 */
export async function readRun(file: string): Promise<Run> {
  const run: Run = new Map();
  const firstLine = new Map<string, Map<string, number>>();
  for await (const { text, line } of readLines(file, { comments: true, nonEmpty: true })) {
    const fields = text.trim().split(/\s+/);
    if (fields.length !== 6) {
      throw new InputFormatError(
        `expected 6 fields 'qid Q0 docid rank score tag', got ${fields.length}`,
        file,
        line,
      );
    }
    const [qid, , docid, , scoreText] = fields;
    const score = parseDecimal(scoreText);
    if (score === undefined) {
      throw new InputFormatError(`score '${scoreText}' is not a finite decimal number`, file, line);
    }
    let scores = run.get(qid);
    let lines = firstLine.get(qid);
    if (scores === undefined || lines === undefined) {
      scores = new Map();
      lines = new Map();
      run.set(qid, scores);
      firstLine.set(qid, lines);
    }
    const previous = lines.get(docid);
    if (previous !== undefined) {
      throw new InputFormatError(
        `duplicate document '${docid}' for query '${qid}' (first at line ${previous})`,
        file,
        line,
      );
    }
    lines.set(docid, line);
    scores.set(docid, score);
  }
  return run;
}

/**
 * Write `run` to `file` atomically as a TREC run. Queries are written in string order; each query's
 * documents in trec_eval order (score descending, ties by document id descending) with ranks 1..n, so
 * the rank column agrees with what trec_eval computes. Scores are written in shortest round-trip form,
 * so reading the file back gives the same numbers and the same ties.
 *
 * @throws {ArgumentError} for a tag or id with whitespace, a non-finite score, or a bad `depth`.
 * @example
 * ```ts
 * const run = new Map([['q1', new Map([['d1', 0.9], ['d2', 0.5]])]]);
 * await writeRun('dense.run', run, { tag: 'minilm', depth: 100 });
 * ```
 */
export async function writeRun(file: string, run: Run, options: WriteRunOptions = {}): Promise<void> {
  checkOptionKeys('writeRun', options, WRITERUNOPTIONS_KEYS);
  const tag = options.tag ?? 'dense-retrieval';
  assertTrecId(tag, 'tag', 'run tag');
  const depth = options.depth ?? Infinity;
  if (depth !== Infinity && (!Number.isInteger(depth) || depth < 1)) {
    throw new ArgumentError('depth', `must be a positive integer, got ${depth}`);
  }
  const out: string[] = [];
  for (const qid of [...run.keys()].sort()) {
    assertTrecId(qid, 'run', 'query id');
    const scores = run.get(qid) as Map<string, number>;
    const ranking = rankDocuments(scores);
    const n = Math.min(depth, ranking.length);
    for (let i = 0; i < n; i++) {
      const docid = ranking[i];
      assertTrecId(docid, 'run', 'document id');
      const score = scores.get(docid) as number;
      if (!Number.isFinite(score)) {
        throw new ArgumentError('run', `score of document '${docid}' for query '${qid}' is ${score}`);
      }
      out.push(`${qid} Q0 ${docid} ${i + 1} ${String(score)} ${tag}\n`);
    }
  }
  await writeFileAtomic(file, out.join(''));
}
