import { ArgumentError } from '../errors.js';
import type { TrainingBatch } from './types.js';

/** The passages of a batch in loss order: all positives, then each query's hard negatives in turn. */
export function batchPassages(batch: TrainingBatch): string[] {
  return [...batch.positives, ...(batch.negatives ?? []).flat()];
}

/** Validate a batch's layout; returns `k`, the hard negatives per query. */
export function checkBatch(batch: TrainingBatch): number {
  const b = batch.queries.length;
  if (b === 0) throw new ArgumentError('batch', 'is empty');
  if (batch.positives.length !== b) {
    throw new ArgumentError('batch', `has ${b} queries but ${batch.positives.length} positives`);
  }
  const negs = batch.negatives ?? [];
  if (negs.length !== 0 && negs.length !== b) {
    throw new ArgumentError('batch', `has ${b} queries but hard negatives for ${negs.length}`);
  }
  const k = negs.length === 0 ? 0 : negs[0].length;
  negs.forEach((n, i) => {
    if (n.length !== k) {
      throw new ArgumentError('batch', `query ${i} has ${n.length} hard negatives but query 0 has ${k}`);
    }
  });
  if (b === 1 && k === 0) {
    throw new ArgumentError(
      'batch',
      'a batch of 1 query without hard negatives has no negatives at all; use a batch size >= 2 or hard negatives',
    );
  }
  if (batch.passageIds !== undefined && batch.passageIds.length !== b * (1 + k)) {
    throw new ArgumentError('passageIds', `has ${batch.passageIds.length} ids for ${b * (1 + k)} passages`);
  }
  return k;
}

/**
 * Validate `batch.scores` for a distillation loss and return `k`: teacher scores must be present, one row
 * of `1 + k` finite numbers per query, and the batch must have hard negatives.
 *
 * @throws {ArgumentError} naming `batch.scores` or `batch.negatives`.
 */
export function checkScores(batch: TrainingBatch, loss: string): number {
  const k = batch.negatives === undefined ? 0 : (batch.negatives[0]?.length ?? 0);
  if (k === 0) {
    throw new ArgumentError(
      'batch.negatives',
      `${loss} compares each positive with hard negatives, but the batch has none; train on examples ` +
        'with negatives (JSONL "negatives" / "negative_ids")',
    );
  }
  const scores = batch.scores;
  if (scores === undefined) {
    throw new ArgumentError(
      'batch.scores',
      `${loss} needs teacher scores, but the batch has none; give every example positiveScore and ` +
        'negativeScores (JSONL "scores": {"positive": ..., "negatives": [...]})',
    );
  }
  if (scores.length !== batch.queries.length) {
    throw new ArgumentError('batch.scores', `has ${scores.length} rows for ${batch.queries.length} queries`);
  }
  scores.forEach((row, i) => {
    if (row.length !== 1 + k) {
      throw new ArgumentError('batch.scores', `row ${i} has ${row.length} scores, expected 1 + ${k}`);
    }
    if (!row.every(Number.isFinite)) {
      throw new ArgumentError('batch.scores', `row ${i} has a non-finite score: ${JSON.stringify(row)}`);
    }
  });
  return k;
}
