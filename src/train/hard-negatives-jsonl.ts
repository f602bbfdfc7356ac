import { ArgumentError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { mineHardNegativeQueries } from './hard-negatives.js';
import type { MineHardNegativesOptions, MinedQuery, MiningSummary } from './hard-negatives.js';

/** How a mined line names its texts: `text` (the texts themselves) or `ids` (ids into the BEIR dataset). */
export type MinedLineForm = 'text' | 'ids';

/** Options of {@link mineHardNegativesToJsonl}: the mining options plus where and how to write. */
export interface MineHardNegativesToJsonlOptions extends MineHardNegativesOptions {
  /** Output file (JSONL), written atomically: a failed run leaves the previous file, never half of one. */
  out: string;
  /** `text` (default): `query`/`positive`/`negatives`; `ids`: `query_id`/`positive_id`/`negative_ids`. */
  form?: MinedLineForm;
  /**
   * Also write (query, positive) lines whose query got fewer than `numNegatives` negatives. Default false:
   * such lines are left out, as sentence-transformers' `n-tuple` output does, so every line has as many.
   */
  keepIncomplete?: boolean;
}

const WRITE_KEYS = optionKeys<Pick<MineHardNegativesToJsonlOptions, 'out' | 'form' | 'keepIncomplete'>>({
  out: true,
  form: true,
  keepIncomplete: true,
});

/** What {@link mineHardNegativesToJsonl} mined and wrote. */
export interface MiningReport extends MiningSummary {
  /** Lines written, one per (query, positive). */
  lines: number;
  /** (query, positive) lines left out for want of `numNegatives` negatives. */
  dropped: number;
  /** Whether the lines carry `scores` (every positive and negative had a score). */
  scored: boolean;
}

/**
 * The JSONL lines of one mined query: one per judged positive, each with all the query's negatives, as
 * sentence-transformers writes one row per (anchor, positive) pair. `scores` (`{positive, negatives}`,
 * aligned with the negatives) is written when every score is known, so the file feeds distillation
 * losses (MarginMSE, DistillKLDiv). The format is the training format `train --train-file` reads.
 *
 * @example
 * ```ts
 * minedLines(q, 'ids');
 * // ['{"query_id":"q1","positive_id":"d1","negative_ids":["d7"],"scores":{"positive":9.1,"negatives":[3.2]}}']
 * ```
 */
export function minedLines(q: MinedQuery, form: MinedLineForm = 'text'): string[] {
  const negScores = q.negatives.map((n) => n.score);
  const scored = negScores.every((s) => s !== undefined) && q.positives.every((p) => p.score !== undefined);
  return q.positives.map((p) => {
    const scores = scored ? { scores: { positive: p.score!, negatives: negScores as number[] } } : {};
    return JSON.stringify(
      form === 'ids'
        ? { query_id: q.queryId, positive_id: p.id, negative_ids: q.negatives.map((n) => n.id), ...scores }
        : { query: q.query, positive: p.text, negatives: q.negatives.map((n) => n.text), ...scores },
    );
  });
}

/** Bytes gathered before a write: lines stream to the file, whatever the number of queries. */
const CHUNK_BYTES = 1 << 16;

/**
 * Mine hard negatives ({@link mineHardNegativeQueries}, every option) and write them as JSONL training
 * data ({@link minedLines}): one line per (query, positive), streamed into an atomic write, so memory holds
 * one search batch's candidates and the file appears complete or not at all.
 *
 * @throws {ArgumentError} bad options (also those of the mining).
 * @example
 * ```ts
 * const bm25 = new Bm25Index();
 * bm25.addDocuments(corpus);
 * const report = await mineHardNegativesToJsonl({
 *   queries, corpus, qrels, ...bm25MiningRetriever(bm25),
 *   rangeMin: 3, rangeMax: 50, relativeMargin: 0.05, numNegatives: 5, out: 'negatives.jsonl',
 * });
 * console.log(`${report.lines} lines, ${report.dropped} left out`);
 * ```
 */
export async function mineHardNegativesToJsonl(
  options: MineHardNegativesToJsonlOptions,
): Promise<MiningReport> {
  const { out, form = 'text', keepIncomplete = false, ...mining } = options;
  checkOptionKeys('mineHardNegativesToJsonl', { out, form, keepIncomplete }, WRITE_KEYS);
  if (typeof out !== 'string' || out === '') throw new ArgumentError('out', 'expected a file path');
  if (form !== 'text' && form !== 'ids')
    throw new ArgumentError('form', `must be 'text' or 'ids', got '${String(form)}'`);
  const numNegatives = mining.numNegatives ?? mining.count ?? 3;
  let lines = 0;
  let dropped = 0;
  let scored = true;
  let summary: MiningSummary | undefined;
  const encoder = new TextEncoder();
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const it = mineHardNegativeQueries(mining);
    let buffer = '';
    for (;;) {
      const r = await it.next();
      if (r.done === true) {
        summary = r.value;
        break;
      }
      const q = r.value;
      if (!keepIncomplete && q.negatives.length < numNegatives) {
        dropped += q.positives.length;
        continue;
      }
      scored &&=
        q.negatives.every((n) => n.score !== undefined) && q.positives.every((p) => p.score !== undefined);
      for (const line of minedLines(q, form)) buffer += line + '\n';
      lines += q.positives.length;
      if (buffer.length >= CHUNK_BYTES) {
        yield encoder.encode(buffer);
        buffer = '';
      }
    }
    if (buffer !== '') yield encoder.encode(buffer);
  }
  await writeFileAtomic(out, chunks());
  return { ...summary!, lines, dropped, scored: scored && lines > 0 };
}
