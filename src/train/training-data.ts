import { InputFormatError } from '../errors.js';
import { readJsonlRecords, stringArrayField, stringField } from '../data/jsonl.js';
import type { CorpusDoc } from '../types.js';
import { checkOptionKeys } from '../util/options.js';
import { passageText } from './examples.js';
import type { TrainingExample } from './examples.js';

/**
 * The JSONL training format read by `train --train-file` and written by `mine`: one example per line,
 *
 * - text form: `{"query": "...", "positive": "...", "negatives": ["...", ...], "scores": {...}}`
 * - id form, resolved against a BEIR dataset's queries and corpus:
 *   `{"query_id": "q1", "positive_id": "d1", "negative_ids": ["d7", ...], "scores": {...}}`
 *
 * `negatives` / `negative_ids` and `scores` are optional; `scores` is
 * `{"positive": 9.1, "negatives": [3.2, ...]}` (teacher scores, e.g. a cross-encoder's logits, aligned with
 * the negatives). A line may carry more negatives than a step uses: a negative pool (see the trainer's
 * `groupSize`).
 */

/** The fields a line of a training file may have. */
export const TRAINING_FILE_FIELDS = [
  'query',
  'positive',
  'negatives',
  'query_id',
  'positive_id',
  'negative_ids',
  'scores',
] as const;

/** Options of {@link readTrainingFile} and {@link streamTrainingExamples}. */
export interface TrainingFileOptions {
  /**
   * Query id -> text, to resolve `query_id` (e.g. `readQueries('scifact/queries.jsonl')`: all queries, not
   * only one split's).
   */
  queries?: Map<string, string>;
  /** The corpus, to resolve `positive_id` / `negative_ids`; a passage's text is {@link passageText}. */
  corpus?: Map<string, CorpusDoc> | CorpusDoc[];
}

/** Only a text form or an id form, or both (then the text is used and the id is its identity). */
function pick(
  o: Record<string, unknown>,
  textField: string,
  idField: string,
): 'text' | 'id' | 'both' | undefined {
  const has = (f: string) => o[f] !== undefined && o[f] !== null;
  if (has(textField) && has(idField)) return 'both';
  if (has(textField)) return 'text';
  return has(idField) ? 'id' : undefined;
}

/**
 * Stream the {@link TrainingExample}s of a JSONL training file (format above), one line at a time. Ids
 * are read exactly as written (a numeric id `1234567890123456789` stays that string, as the BEIR readers
 * keep it) and become the example's `queryId` / `positiveId` / `negativeIds`; their texts come from
 * `options.queries` and `options.corpus` (passages as BEIR's `title + ' ' + text`, the same text each
 * time, so memory stays bounded by the corpus). A field given in both forms (`query` and `query_id`) uses
 * the text and keeps the id as the example's identity, without looking it up. Teacher scores become
 * `positiveScore` / `negativeScores`.
 *
 * @throws {InputFormatError} naming file and line for: invalid JSON or UTF-8, a line that is not an
 *   object, an unknown field (in the line or in `scores`), a missing query or positive, an empty text, a
 *   text that is not a string, an id form without `queries`/`corpus` to resolve it, an id that the queries
 *   or corpus lack, `negatives` and `negative_ids` of different lengths, a negative equal to the positive
 *   or repeated, `scores` without both `positive` and `negatives`, `scores.negatives` not aligned with the
 *   negatives, a score that is not a finite number (`1e999` reads as Infinity), and an empty file.
 * @example
 * ```ts
 * const queries = await readQueries('scifact/queries.jsonl');
 * const corpus = new Map<string, CorpusDoc>();
 * for await (const doc of streamCorpus('scifact/corpus.jsonl')) corpus.set(doc.id, doc);
 * for await (const example of streamTrainingExamples('negatives.jsonl', { queries, corpus })) {
 *   console.log(example.queryId, example.negatives?.length);
 * }
 * ```
 */
export async function* streamTrainingExamples(
  file: string,
  options: TrainingFileOptions = {},
): AsyncGenerator<TrainingExample> {
  checkOptionKeys('streamTrainingExamples', options, ['queries', 'corpus']);
  const corpus =
    options.corpus === undefined || options.corpus instanceof Map
      ? options.corpus
      : new Map(options.corpus.map((d) => [d.id, d] as const));
  // One string per passage, however many lines name it: a pool of 30 mined negatives per query would
  // otherwise hold 30 fresh copies of mostly the same texts.
  const passages = new Map<string, string>();
  let count = 0;
  for await (const { value, line, text: source } of readJsonlRecords(file)) {
    const fail = (message: string): never => {
      throw new InputFormatError(message, file, line);
    };
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      fail(`expected a JSON object, got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`);
    }
    const o = value as Record<string, unknown>;
    const unknown = Object.keys(o).filter((k) => !(TRAINING_FILE_FIELDS as readonly string[]).includes(k));
    if (unknown.length > 0) {
      fail(
        `unknown field(s) ${unknown.map((u) => `'${u}'`).join(', ')}; the fields are ${TRAINING_FILE_FIELDS.join(', ')}`,
      );
    }
    const text = (field: string): string => {
      const v = o[field];
      if (typeof v !== 'string') fail(`field '${field}' must be a string, got ${typeof v}`);
      if ((v as string).trim() === '') fail(`field '${field}' is empty`);
      return v as string;
    };
    const passage = (id: string, field: string): string => {
      if (corpus === undefined) {
        fail(
          `field '${field}' names a document, but no corpus was given to resolve it (CLI: --data BEIR_DIR)`,
        );
      }
      const known = passages.get(id);
      if (known !== undefined) return known;
      const doc = corpus!.get(id);
      if (doc === undefined) fail(`${field} '${id}' is not in the corpus`);
      const resolved = passageText(doc!);
      passages.set(id, resolved);
      return resolved;
    };

    const example: TrainingExample = { query: '', positive: '' };
    const queryForm = pick(o, 'query', 'query_id');
    if (queryForm === undefined) fail(`missing the query: give 'query' (text) or 'query_id'`);
    if (queryForm !== 'text') example.queryId = stringField(o, 'query_id', file, line, source);
    if (queryForm === 'id') {
      if (options.queries === undefined) {
        fail(
          `field 'query_id' names a query, but no queries were given to resolve it (CLI: --data BEIR_DIR)`,
        );
      }
      const q = options.queries!.get(example.queryId!);
      if (q === undefined) fail(`query_id '${example.queryId}' is not in the queries`);
      example.query = q!;
    } else {
      example.query = text('query');
    }

    const positiveForm = pick(o, 'positive', 'positive_id');
    if (positiveForm === undefined) fail(`missing the positive: give 'positive' (text) or 'positive_id'`);
    if (positiveForm !== 'text') example.positiveId = stringField(o, 'positive_id', file, line, source);
    example.positive = positiveForm === 'id' ? passage(example.positiveId!, 'positive_id') : text('positive');

    const negativeIds = stringArrayField(o, 'negative_ids', file, line, source);
    let negatives: string[] | undefined;
    if (o.negatives !== undefined && o.negatives !== null) {
      if (!Array.isArray(o.negatives)) fail(`field 'negatives' must be an array of strings`);
      negatives = (o.negatives as unknown[]).map((n, i) => {
        if (typeof n !== 'string')
          fail(`element ${i} of field 'negatives' must be a string, got ${typeof n}`);
        if ((n as string).trim() === '') fail(`element ${i} of field 'negatives' is empty`);
        return n as string;
      });
      if (negativeIds !== undefined && negativeIds.length !== negatives.length) {
        fail(`'negatives' has ${negatives.length} entries but 'negative_ids' has ${negativeIds.length}`);
      }
    } else if (negativeIds !== undefined) {
      negatives = negativeIds.map((id) => passage(id, 'negative_ids'));
    }
    if (negatives !== undefined) example.negatives = negatives;
    if (negativeIds !== undefined) example.negativeIds = negativeIds;
    checkDistinct(example, fail);

    if (o.scores !== undefined && o.scores !== null) {
      const { positive, negatives: negativeScores } = readScores(o.scores, negatives?.length ?? 0, fail);
      example.positiveScore = positive;
      example.negativeScores = negativeScores;
    }
    count++;
    yield example;
  }
  if (count === 0) throw new InputFormatError('empty file: no training examples', file);
}

/**
 * A negative equal to the positive would be trained as both; a repeated negative is weighed twice and
 * breaks the batch sampler's no-duplicates rule. Compared by text and by id, as the sampler does.
 */
function checkDistinct(e: TrainingExample, fail: (message: string) => never): void {
  const texts = [e.positive, ...(e.negatives ?? [])];
  const ids = [e.positiveId, ...(e.negativeIds ?? [])];
  for (const [what, list] of [
    ['text', texts],
    ['id', ids],
  ] as const) {
    const first = new Map<string, number>();
    list.forEach((x, i) => {
      if (x === undefined) return;
      const j = first.get(x);
      if (j === undefined) {
        first.set(x, i);
        return;
      }
      const name = (k: number) => (k === 0 ? 'the positive' : `negative ${k - 1}`);
      fail(`negative ${i - 1} has the same ${what} as ${name(j)}`);
    });
  }
}

function readScores(
  raw: unknown,
  negatives: number,
  fail: (message: string) => never,
): { positive: number; negatives: number[] } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(`field 'scores' must be an object {"positive": number, "negatives": [numbers]}`);
  }
  const s = raw as Record<string, unknown>;
  const unknown = Object.keys(s).filter((k) => k !== 'positive' && k !== 'negatives');
  if (unknown.length > 0) {
    fail(
      `unknown field(s) ${unknown.map((u) => `'scores.${u}'`).join(', ')}; 'scores' has positive, negatives`,
    );
  }
  const finite = (v: unknown, what: string): number => {
    if (typeof v !== 'number')
      fail(`${what} must be a number, got ${v === undefined ? 'nothing' : typeof v}`);
    if (!Number.isFinite(v)) fail(`${what} is ${String(v)}; scores must be finite`);
    return v as number;
  };
  const positive = finite(s.positive, "'scores.positive'");
  if (!Array.isArray(s.negatives)) {
    fail(`'scores.negatives' must be an array of numbers aligned with the negatives (${negatives} of them)`);
  }
  const list = (s.negatives as unknown[]).map((v, i) => finite(v, `'scores.negatives[${i}]'`));
  if (list.length !== negatives) {
    fail(`'scores.negatives' has ${list.length} scores but the line has ${negatives} negatives`);
  }
  return { positive, negatives: list };
}

/**
 * Read a whole JSONL training file (see {@link streamTrainingExamples}, which this collects).
 *
 * @throws {InputFormatError} as {@link streamTrainingExamples}.
 * @example
 * ```ts
 * const examples = await readTrainingFile('train.jsonl'); // text form: no corpus needed
 * await trainer.train(examples);
 * ```
 */
export async function readTrainingFile(
  file: string,
  options: TrainingFileOptions = {},
): Promise<TrainingExample[]> {
  const out: TrainingExample[] = [];
  for await (const e of streamTrainingExamples(file, options)) out.push(e);
  return out;
}
