import { ArgumentError } from '../errors.js';
import { Rng, deriveSeed } from '../util/random.js';
import type { NoDuplicatesBatchSampler, SamplerState } from './sampler.js';

/** How batches of several datasets are interleaved (sentence-transformers' `MultiDatasetBatchSamplers`). */
export type MultiDatasetSampling = 'round-robin' | 'proportional';

/** The sampling strategies, for validation and help texts. */
export const MULTI_DATASET_SAMPLINGS: readonly MultiDatasetSampling[] = ['round-robin', 'proportional'];

/** One batch: the dataset (position) it comes from and the example indices within that dataset. */
export interface DatasetBatch {
  dataset: number;
  indices: number[];
}

/** Seed domain of the proportional order, apart from the per-dataset shuffles. */
const ORDER_SEED = 0x6f726472;

/**
 * Batches from several datasets, each batch from one dataset only (a query's in-batch negatives then come
 * from its own dataset), as sentence-transformers' multi-dataset batch samplers:
 *
 * - `'round-robin'` (`RoundRobinBatchSampler`): datasets take turns in their given order, one batch each;
 *   the epoch ends at the first turn whose dataset has no batch left, so every dataset contributes about
 *   equally and the larger ones are not exhausted (their other batches wait for the next epoch's shuffle).
 * - `'proportional'` (`ProportionalBatchSampler`, sentence-transformers' default): every batch of every
 *   dataset, in a random order of datasets, so a dataset is sampled in proportion to its size.
 *
 * Each dataset's batches come from its own {@link NoDuplicatesBatchSampler} (no repeated text within a
 * batch), reshuffled every epoch. An epoch's batches depend only on (seed, epoch), so the whole state is a
 * {@link SamplerState} and resuming is exact.
 *
 * @example
 * ```ts
 * const sampler = new MultiDatasetBatchSampler(
 *   [new NoDuplicatesBatchSampler(nq, 32, 1), new NoDuplicatesBatchSampler(msmarco, 32, 2)],
 *   'proportional',
 *   42,
 * );
 * const { dataset, indices } = sampler.next(); // 32 indices into nq (dataset 0) or msmarco (1)
 * ```
 */
export class MultiDatasetBatchSampler {
  readonly sampling: MultiDatasetSampling;
  readonly seed: number;
  private readonly samplers: NoDuplicatesBatchSampler[];
  private readonly cache = new Map<number, DatasetBatch[]>();
  private position: SamplerState = { epoch: 0, batch: 0 };

  constructor(samplers: NoDuplicatesBatchSampler[], sampling: MultiDatasetSampling, seed: number) {
    if (samplers.length === 0) throw new ArgumentError('datasets', 'no datasets');
    if (!MULTI_DATASET_SAMPLINGS.includes(sampling)) {
      throw new ArgumentError(
        'sampling',
        `must be one of ${MULTI_DATASET_SAMPLINGS.join(', ')}, got ${JSON.stringify(sampling)}`,
      );
    }
    this.samplers = samplers;
    this.sampling = sampling;
    this.seed = seed;
  }

  /** The batches of epoch `epoch`, in training order. */
  epochBatches(epoch: number): DatasetBatch[] {
    const hit = this.cache.get(epoch);
    if (hit) return hit;
    const perDataset = this.samplers.map((s) => s.epochBatches(epoch));
    const taken = perDataset.map(() => 0);
    const out: DatasetBatch[] = [];
    if (this.sampling === 'round-robin') {
      for (let d = 0; taken[d] < perDataset[d].length; d = (d + 1) % perDataset.length) {
        out.push({ dataset: d, indices: perDataset[d][taken[d]++] });
      }
    } else {
      const order = perDataset.flatMap((batches, d) => batches.map(() => d));
      for (const d of new Rng(deriveSeed(this.seed, ORDER_SEED, epoch)).shuffle(order)) {
        out.push({ dataset: d, indices: perDataset[d][taken[d]++] });
      }
    }
    for (const e of this.cache.keys()) if (e < epoch - 1) this.cache.delete(e);
    this.cache.set(epoch, out);
    return out;
  }

  /** The next batch. */
  next(): DatasetBatch {
    let { epoch, batch } = this.position;
    let batches = this.epochBatches(epoch);
    if (batch >= batches.length) {
      epoch += 1;
      batch = 0;
      batches = this.epochBatches(epoch);
    }
    if (batches.length === 0) {
      // Epoch 0 is checked when each dataset's sampler is built; a later shuffle (or pool draw) could in
      // principle leave a dataset nothing to fill a batch with.
      throw new ArgumentError(
        'batchSize',
        `epoch ${epoch} has no batch: a dataset cannot fill one without repeating a text; lower the batch size`,
      );
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
