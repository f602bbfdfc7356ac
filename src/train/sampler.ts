import { ArgumentError } from '../errors.js';
import { Rng, deriveSeed } from '../util/random.js';
import type { TrainingExample } from './examples.js';

/** Where a {@link NoDuplicatesBatchSampler} stands: the epoch and the next batch within it. */
export interface SamplerState {
  epoch: number;
  batch: number;
}

/**
 * The keys an example brings into a batch: every text it holds, in one namespace across columns (as
 * sentence-transformers' `NoDuplicatesBatchSampler` requires the values of a batch to be unique across
 * columns), plus its query and passage ids when given. Keying on ids alone let two queries with the same
 * text (SciFact 85 and 86) or two documents with the same abstract into one batch, where one is an
 * unmasked in-batch negative of a query it is relevant to.
 */
function keysOf(e: TrainingExample): string[] {
  const keys = new Set<string>([
    `t\u0000${e.query}`,
    `t\u0000${e.positive}`,
    ...(e.negatives ?? []).map((n) => `t\u0000${n}`),
  ]);
  if (e.queryId !== undefined) keys.add(`q\u0000${e.queryId}`);
  if (e.positiveId !== undefined) keys.add(`p\u0000${e.positiveId}`);
  for (const id of e.negativeIds ?? []) keys.add(`p\u0000${id}`);
  return [...keys];
}

/** The passages of an example by identity (text, and id when given), to refuse a repeated passage. */
function passageClashes(e: TrainingExample): boolean {
  const passages = [e.positive, ...(e.negatives ?? [])];
  const ids = [e.positiveId, ...(e.negativeIds ?? [])].filter((id) => id !== undefined);
  return new Set(passages).size !== passages.length || new Set(ids).size !== ids.length;
}

/**
 * Seeded batches that never hold the same text twice, in any column, nor the same query or passage id
 * twice (a duplicate positive would be a false in-batch negative). Texts are compared exactly, as
 * sentence-transformers' `NoDuplicatesBatchSampler` compares the values of a batch across columns. Each epoch shuffles the examples with a seed derived from (seed, epoch), then
 * fills batches greedily in that order, deferring an example that would duplicate a text to a later batch;
 * a final batch that cannot be filled is dropped. Because an epoch's batches depend only on (seed, epoch),
 * the whole state is {@link SamplerState}, which makes resuming exact.
 *
 * @example
 * ```ts
 * const sampler = new NoDuplicatesBatchSampler(examples, 32, 42);
 * const indices = sampler.next(); // 32 example indices, all texts distinct
 * const saved = sampler.state;    // { epoch, batch }
 * ```
 */
export class NoDuplicatesBatchSampler {
  readonly batchSize: number;
  readonly seed: number;
  private readonly keys: string[][];
  private readonly epochExamples?: (epoch: number) => TrainingExample[];
  private readonly cache = new Map<number, number[][]>();
  private position: SamplerState = { epoch: 0, batch: 0 };

  /**
   * @param options.epochExamples the examples as epoch `epoch` sees them, when that changes per epoch (a
   *   negative pool draws other negatives each epoch): batches then never repeat a text of the negatives
   *   drawn, while the whole pool of an example may overlap another's. Same length and order as `examples`.
   */
  constructor(
    examples: TrainingExample[],
    batchSize: number,
    seed: number,
    options: { epochExamples?: (epoch: number) => TrainingExample[] } = {},
  ) {
    if (examples.length === 0) throw new ArgumentError('examples', 'no training examples');
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ArgumentError('batchSize', `must be an integer >= 1, got ${batchSize}`);
    }
    if (batchSize > examples.length) {
      throw new ArgumentError(
        'batchSize',
        `(${batchSize}) is larger than the ${examples.length} training examples`,
      );
    }
    this.batchSize = batchSize;
    this.seed = seed;
    this.epochExamples = options.epochExamples;
    this.keys = this.epochExamples === undefined ? examples.map(keysOf) : [];
    examples.forEach((e, i) => {
      if (passageClashes(e)) {
        throw new ArgumentError(
          'examples',
          `example ${i} repeats a passage (a negative equal to its positive?)`,
        );
      }
    });
    if (this.epochBatches(0).length === 0) {
      throw new ArgumentError(
        'batchSize',
        `(${batchSize}) cannot be filled without repeating a query or passage; the examples have too few distinct texts`,
      );
    }
  }

  /** The batches (lists of example indices) of epoch `epoch`. */
  epochBatches(epoch: number): number[][] {
    const hit = this.cache.get(epoch);
    if (hit) return hit;
    const rng = new Rng(deriveSeed(this.seed, epoch));
    const keys = this.epochExamples === undefined ? this.keys : this.epochExamples(epoch).map(keysOf);
    let remaining = rng.shuffle(keys.map((_, i) => i));
    const batches: number[][] = [];
    while (remaining.length >= this.batchSize) {
      const seen = new Set<string>();
      const batch: number[] = [];
      const deferred: number[] = [];
      for (let r = 0; r < remaining.length; r++) {
        const i = remaining[r];
        if (batch.length === this.batchSize) {
          deferred.push(...remaining.slice(r));
          break;
        }
        if (keys[i].some((k) => seen.has(k))) {
          deferred.push(i);
          continue;
        }
        for (const k of keys[i]) seen.add(k);
        batch.push(i);
      }
      if (batch.length < this.batchSize) break;
      batches.push(batch);
      remaining = deferred;
    }
    // Only the current and next epochs are ever asked for; keep the cache small.
    for (const e of this.cache.keys()) if (e < epoch - 1) this.cache.delete(e);
    this.cache.set(epoch, batches);
    return batches;
  }

  /** The next batch of example indices. */
  next(): number[] {
    let { epoch, batch } = this.position;
    let batches = this.epochBatches(epoch);
    if (batch >= batches.length) {
      epoch += 1;
      batch = 0;
      batches = this.epochBatches(epoch);
    }
    this.position = { epoch, batch: batch + 1 };
    return batches[batch];
  }

  /** The position to save for resuming. */
  get state(): SamplerState {
    return { ...this.position };
  }

  set state(state: SamplerState) {
    this.position = { epoch: state.epoch, batch: state.batch };
  }
}
