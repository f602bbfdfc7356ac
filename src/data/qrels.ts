import { ArgumentError, InputFormatError } from '../errors.js';
import type { Qrels } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { parseDecimal } from '../util/number.js';
import { assertTrecId, readLines } from './lines.js';

/** Which on-disk layout a qrels file uses. */
export type QrelsFormat = 'trec' | 'beir';

/**
 * BEIR's header line, exactly as its writers and `GenericDataLoader` use it. Only this text is skipped:
 * guessing a header from "the grade is not an integer" swallowed a first data line such as `q1 d1 1.0`.
 */
const BEIR_HEADER = ['query-id', 'corpus-id', 'score'];

/**
 * Read relevance judgements from `file`, in either of the two common layouts, detected from the first
 * line:
 * - TREC: `qid iter docid grade`, whitespace separated (the `iter` column is ignored);
 * - BEIR: `query-id<TAB>corpus-id<TAB>score`, with an optional header line that must be exactly BEIR's
 *   (`query-id`, `corpus-id`, `score`); any other first line is read as data.
 *
 * Lines starting with `#` and blank lines are skipped. Grades must be integers, written as such or as a
 * decimal with an integer value (`1.0` is 1, as trec_eval's `atol` reads it; `0.5` is refused where
 * `atol` would silently read 0); grade >= 1 counts as
 * relevant for binary measures, and nDCG uses the grade as gain (negative grades act like 0, as in
 * trec_eval).
 *
 * @throws {InputFormatError} naming file and line for a malformed line, a missing field, a non-integer
 *   grade, a document judged twice for the same query, or an empty file.
 * @example
 * ```ts
 * const qrels = await readQrels('qrels/test.tsv');
 * console.log(qrels.get('1')?.get('31715818')); // 1
 * ```
 */
export async function readQrels(file: string): Promise<Qrels> {
  return (await readQrelsWithFormat(file)).qrels;
}

/**
 * Like {@link readQrels}, also returning the layout that was detected.
 *
 * @example
 * ```ts
 * const { qrels, format } = await readQrelsWithFormat('qrels/test.tsv'); // format: 'beir'
 * ```
 */
export async function readQrelsWithFormat(file: string): Promise<{ qrels: Qrels; format: QrelsFormat }> {
  const qrels: Qrels = new Map();
  const firstLine = new Map<string, Map<string, number>>();
  let format: QrelsFormat | undefined;
  let rows = 0;
  for await (const { text, line } of readLines(file, { comments: true })) {
    if (format === undefined) {
      format = detect(text, file, line);
      if (format === 'beir' && isBeirHeader(text)) continue;
    }
    const fields = format === 'beir' ? text.split('\t').map((f) => f.trim()) : text.trim().split(/\s+/);
    const expected = format === 'beir' ? 3 : 4;
    if (fields.length !== expected || fields.some((f) => f === '')) {
      const layout = format === 'beir' ? "'query-id<TAB>corpus-id<TAB>score'" : "'qid iter docid grade'";
      throw new InputFormatError(
        `expected ${expected} fields ${layout}, got ${fields.filter((f) => f !== '').length}`,
        file,
        line,
      );
    }
    const qid = fields[0];
    const docid = format === 'beir' ? fields[1] : fields[2];
    const gradeText = format === 'beir' ? fields[2] : fields[3];
    // trec_eval reads the grade with atol, so `1.0` is grade 1 (and `0.5` silently 0): a decimal with an
    // integer value is that integer; any other value is refused rather than truncated.
    const value = parseDecimal(gradeText);
    if (value === undefined || !Number.isSafeInteger(value)) {
      throw new InputFormatError(`non-integer grade '${gradeText}'`, file, line);
    }
    const grade = value === 0 ? 0 : value; // no -0
    let judged = qrels.get(qid);
    let lines = firstLine.get(qid);
    if (judged === undefined || lines === undefined) {
      judged = new Map();
      lines = new Map();
      qrels.set(qid, judged);
      firstLine.set(qid, lines);
    }
    const previous = lines.get(docid);
    if (previous !== undefined) {
      throw new InputFormatError(
        `duplicate judgement of document '${docid}' for query '${qid}' (first at line ${previous})`,
        file,
        line,
      );
    }
    lines.set(docid, line);
    judged.set(docid, grade);
    rows++;
  }
  if (format === undefined || rows === 0) throw new InputFormatError('empty file: no judgements', file);
  return { qrels, format };
}

function isBeirHeader(text: string): boolean {
  const fields = text.split('\t').map((f) => f.trim());
  return fields.length === 3 && fields.every((f, i) => f === BEIR_HEADER[i]);
}

function detect(text: string, file: string, line: number): QrelsFormat {
  if (text.split('\t').length === 3) return 'beir';
  if (text.trim().split(/\s+/).length === 4) return 'trec';
  throw new InputFormatError(
    "not a qrels line: expected 'qid iter docid grade' (TREC) or 'query-id<TAB>corpus-id<TAB>score' (BEIR)",
    file,
    line,
  );
}

/**
 * Write `qrels` to `file` atomically in TREC format (`qid 0 docid grade`), queries and documents in
 * string order so the output is reproducible.
 *
 * @example
 * ```ts
 * await writeQrels('qrels.txt', new Map([['q1', new Map([['d1', 2]])]]));
 * ```
 */
export async function writeQrels(file: string, qrels: Qrels): Promise<void> {
  const out: string[] = [];
  for (const qid of [...qrels.keys()].sort()) {
    const judged = qrels.get(qid) as Map<string, number>;
    for (const docid of [...judged.keys()].sort()) {
      const grade = judged.get(docid) as number;
      if (!Number.isInteger(grade)) {
        throw new ArgumentError(
          'qrels',
          `non-integer grade ${grade} for query '${qid}', document '${docid}'`,
        );
      }
      assertTrecId(qid, 'qrels', 'query id');
      assertTrecId(docid, 'qrels', 'document id');
      out.push(`${qid} 0 ${docid} ${grade}\n`);
    }
  }
  await writeFileAtomic(file, out.join(''));
}
