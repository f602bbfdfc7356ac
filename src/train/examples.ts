import { ArgumentError } from '../errors.js';
import type { CorpusDoc, Qrels } from '../types.js';
import { checkOptionKeys } from '../util/options.js';

/** One training example: a query, one positive passage and optionally hard negatives. */
export interface TrainingExample {
  query: string;
  positive: string;
  /** Hard negatives; every example of a run must have the same number. */
  negatives?: string[];
  /**
   * Identity of the query. The sampler never puts two examples with the same query id, nor (with or
   * without ids) the same text, into one batch.
   */
  queryId?: string;
  /** Identity of the positive; the loss masks a passage with the same id or the same text. */
  positiveId?: string;
  /** Identities of the negatives (compared like `positiveId`). */
  negativeIds?: string[];
  /**
   * Teacher score of the positive (e.g. a cross-encoder's logit), for the distillation losses
   * (`MarginMSELoss`, `DistillKLDivLoss`). Give it with `negativeScores` or not at all.
   */
  positiveScore?: number;
  /** Teacher scores of `negatives`, in the same order (same length). */
  negativeScores?: number[];
}

/**
 * The text a passage is embedded from: BEIR's `title + ' ' + text` convention (just `text` without title),
 * the same as `encode` uses for `.jsonl` input.
 *
 * @example
 * ```ts
 * passageText({ id: 'd1', title: 'Cats', text: 'Cats purr.' }); // 'Cats Cats purr.'
 * ```
 */
export function passageText(doc: CorpusDoc): string {
  return doc.title ? `${doc.title} ${doc.text}`.trim() : doc.text;
}

/**
 * One example per judged-relevant (query, document) pair (grade >= `minGrade`, default 1), in qrels
 * order. Errors name what is missing: no positive judgement at all, or a judged query / document that the
 * queries / corpus do not contain.
 *
 * @example
 * ```ts
 * const { corpus, queries, qrels } = await loadBeir('data/scifact', { split: 'train' });
 * const examples = examplesFromQrels({ queries, corpus, qrels });
 * ```
 */
export function examplesFromQrels(options: {
  queries: Map<string, string>;
  corpus: CorpusDoc[] | Map<string, CorpusDoc>;
  qrels: Qrels;
  minGrade?: number;
}): TrainingExample[] {
  checkOptionKeys('examplesFromQrels', options, ['queries', 'corpus', 'qrels', 'minGrade']);
  const { queries, qrels } = options;
  const minGrade = options.minGrade ?? 1;
  const corpus =
    options.corpus instanceof Map ? options.corpus : new Map(options.corpus.map((d) => [d.id, d] as const));
  const out: TrainingExample[] = [];
  for (const [qid, docs] of qrels) {
    for (const [docId, grade] of docs) {
      if (grade < minGrade) continue;
      const query = queries.get(qid);
      if (query === undefined) throw new ArgumentError('queries', `query '${qid}' of the qrels has no text`);
      const doc = corpus.get(docId);
      if (doc === undefined) {
        throw new ArgumentError(
          'corpus',
          `document '${docId}' (judged for query '${qid}') is not in the corpus`,
        );
      }
      out.push({ query, positive: passageText(doc), queryId: qid, positiveId: docId });
    }
  }
  if (out.length === 0) {
    throw new ArgumentError('qrels', `no positive judgements (grade >= ${minGrade}): nothing to train on`);
  }
  return out;
}

const EXAMPLE_FIELDS = [
  'query',
  'positive',
  'negatives',
  'queryId',
  'positiveId',
  'negativeIds',
  'positiveScore',
  'negativeScores',
] as const;

/**
 * Check one training example's fields by name: examples often come from JSON written elsewhere, where
 * `pos`/`neg` (column names vary between libraries) would otherwise train on `undefined`.
 *
 * @param i the example's position, for the message.
 * @throws {ArgumentError} (argument `examples`) naming the unknown or mistyped field.
 */
export function checkExampleFields(e: TrainingExample, i: number): void {
  if (e === null || typeof e !== 'object') {
    throw new ArgumentError('examples', `example ${i} is not an object`);
  }
  const unknown = Object.keys(e).filter((key) => !(EXAMPLE_FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) {
    throw new ArgumentError(
      'examples',
      `example ${i} has unknown field(s) ${unknown.map((u) => `'${u}'`).join(', ')}; the fields are ${EXAMPLE_FIELDS.join(', ')}`,
    );
  }
  for (const field of ['query', 'positive'] as const) {
    if (typeof e[field] !== 'string') {
      const got = e[field] === undefined ? 'nothing' : typeof e[field];
      throw new ArgumentError('examples', `example ${i}: '${field}' must be a string, got ${got}`);
    }
  }
  if (
    e.negatives !== undefined &&
    (!Array.isArray(e.negatives) || e.negatives.some((n) => typeof n !== 'string'))
  ) {
    throw new ArgumentError('examples', `example ${i}: 'negatives' must be an array of strings`);
  }
  const finite = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
  if ((e.positiveScore === undefined) !== (e.negativeScores === undefined)) {
    throw new ArgumentError('examples', `example ${i}: give 'positiveScore' and 'negativeScores' together`);
  }
  if (e.positiveScore !== undefined && !finite(e.positiveScore)) {
    throw new ArgumentError('examples', `example ${i}: 'positiveScore' must be a finite number`);
  }
  if (e.negativeScores !== undefined) {
    if (!Array.isArray(e.negativeScores) || !e.negativeScores.every(finite)) {
      throw new ArgumentError(
        'examples',
        `example ${i}: 'negativeScores' must be an array of finite numbers`,
      );
    }
    const n = e.negatives?.length ?? 0;
    if (e.negativeScores.length !== n) {
      throw new ArgumentError(
        'examples',
        `example ${i} has ${n} negatives but ${e.negativeScores.length} negativeScores`,
      );
    }
  }
}
