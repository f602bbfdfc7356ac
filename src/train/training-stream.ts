import { createHash } from 'node:crypto';
import { ArgumentError } from '../errors.js';
import { checkOptionKeys } from '../util/options.js';
import { deriveSeed } from '../util/random.js';
import { checkExampleFields } from './examples.js';
import type { TrainingExample } from './examples.js';
import { MULTI_DATASET_SAMPLINGS, MultiDatasetBatchSampler } from './multi-dataset-sampler.js';
import type { MultiDatasetSampling } from './multi-dataset-sampler.js';
import { checkPoolSize, drawNegatives } from './negative-pool.js';
import { NoDuplicatesBatchSampler } from './sampler.js';
import type { SamplerState } from './sampler.js';

/**
 * What {@link Trainer.train} trains on besides a plain example list: several named datasets, how their
 * batches interleave, and negative pools.
 *
 * @example
 * ```ts
 * await trainer.train({
 *   datasets: { nq: nqExamples, scifact: scifactExamples },
 *   sampling: 'round-robin',
 *   groupSize: 8, // each example: 1 positive + 7 of its pooled negatives, redrawn every epoch
 * });
 * ```
 */
export interface TrainingData {
  /** One dataset, or several by name; every batch comes from one dataset. */
  datasets: TrainingExample[] | Record<string, TrainingExample[]>;
  /**
   * How batches of several datasets interleave (see {@link MultiDatasetBatchSampler}). Default
   * `'proportional'`, as sentence-transformers.
   */
  sampling?: MultiDatasetSampling;
  /**
   * Tevatron's `train_group_size`: passages per query and step, the positive and `groupSize - 1` hard
   * negatives drawn from the example's negatives (its pool) anew every epoch (see {@link drawNegatives}).
   * Pools may then differ in size, each holding at least `groupSize - 1`. Without it every example of a
   * dataset must carry the same number of negatives, all used at every step.
   */
  groupSize?: number;
}

/** The run's data configuration as recorded in a checkpoint (resuming with another one is refused). */
export interface TrainingDataState {
  datasets: { name: string; count: number }[];
  sampling: MultiDatasetSampling;
  groupSize?: number;
}

/** Seed domain of the per-dataset batch shuffles of a multi-dataset run. */
const DATASET_SEED = 0x64617461;

function fingerprintOf(examples: TrainingExample[], h = createHash('sha256')): ReturnType<typeof createHash> {
  for (const e of examples) {
    h.update(e.query).update('\u0000').update(e.positive).update('\u0000');
    for (const n of e.negatives ?? []) h.update(n).update('\u0001');
    // Teacher scores change what a distillation loss trains towards: part of the data. Hashed only when
    // given, so the fingerprints of runs without scores stay what earlier versions wrote.
    if (e.positiveScore !== undefined) {
      h.update(`\u0003${e.positiveScore}`);
      for (const s of e.negativeScores ?? []) h.update(`\u0004${s}`);
    }
    h.update('\u0002');
  }
  return h;
}

/**
 * The batches a training run consumes: the datasets (checked), their batch samplers, the negative-pool
 * draws, and the resumable position. The {@link Trainer} builds one per `train()` call.
 *
 * @throws {ArgumentError} at construction for an empty dataset, mistyped examples, negatives of different
 *   counts without `groupSize`, a pool smaller than `groupSize - 1`, an unknown `sampling`, or a batch size
 *   a dataset cannot fill; a multi-dataset message names the dataset.
 * @example
 * ```ts
 * const stream = new TrainingStream({ datasets: { a, b }, sampling: 'round-robin', groupSize: 4 }, 32, 42);
 * const { dataset, examples, epoch } = stream.next(); // 32 examples of `a`, 3 negatives each
 * const saved = stream.state; // { epoch, batch }: restore it to continue the same stream
 * ```
 */
export class TrainingStream {
  readonly names: string[];
  readonly sampling: MultiDatasetSampling;
  readonly groupSize: number | undefined;
  private readonly datasets: TrainingExample[][];
  private readonly sampler: MultiDatasetBatchSampler;
  private readonly seed: number;
  /** Whether the caller gave `TrainingData` (recorded in checkpoints) rather than a plain list. */
  private readonly structured: boolean;

  constructor(data: TrainingExample[] | TrainingData, batchSize: number, seed: number) {
    const structured = !Array.isArray(data);
    if (structured) {
      if (data === null || typeof data !== 'object') {
        throw new ArgumentError(
          'examples',
          'expected an array of examples or { datasets, sampling?, groupSize? }',
        );
      }
      checkOptionKeys('train', data, ['datasets', 'sampling', 'groupSize'], 'examples');
    }
    const d: TrainingData = structured ? data : { datasets: data };
    const sets = d.datasets;
    if (sets === null || typeof sets !== 'object') {
      throw new ArgumentError('datasets', 'expected an array of examples or a record of named arrays');
    }
    const entries = Array.isArray(sets) ? [['', sets] as const] : Object.entries(sets);
    if (entries.length === 0) throw new ArgumentError('datasets', 'no datasets');
    const sampling = d.sampling ?? 'proportional';
    if (!MULTI_DATASET_SAMPLINGS.includes(sampling)) {
      throw new ArgumentError(
        'sampling',
        `must be one of ${MULTI_DATASET_SAMPLINGS.join(', ')}, got ${JSON.stringify(sampling)}`,
      );
    }
    if (d.groupSize !== undefined && (!Number.isInteger(d.groupSize) || d.groupSize < 1)) {
      throw new ArgumentError('groupSize', `must be an integer >= 1, got ${d.groupSize}`);
    }
    this.names = entries.map(([name]) => name);
    this.datasets = entries.map(([name, examples]) => {
      if (!Array.isArray(examples)) {
        throw new ArgumentError('datasets', `dataset '${name}' is not an array of examples`);
      }
      return examples;
    });
    this.sampling = sampling;
    this.groupSize = d.groupSize;
    this.seed = seed;
    this.structured = structured;
    const several = entries.length > 1;
    const samplers = this.datasets.map((examples, i) => {
      const label = several ? ` of dataset '${this.names[i]}'` : '';
      try {
        this.checkDataset(examples, batchSize, several ? this.names[i] : undefined);
        // One dataset keeps the seed of a plain run, so its batches are what they always were.
        const s = several ? deriveSeed(seed, DATASET_SEED, i) : seed;
        const epochExamples =
          this.groupSize === undefined ? undefined : (epoch: number) => this.drawAll(i, epoch);
        return new NoDuplicatesBatchSampler(examples, batchSize, s, { epochExamples });
      } catch (error) {
        if (error instanceof ArgumentError && label !== '' && !error.message.includes(label)) {
          throw new ArgumentError(
            error.argument,
            `${error.message.slice(error.argument.length + 2)}${label}`,
          );
        }
        throw error;
      }
    });
    this.sampler = new MultiDatasetBatchSampler(samplers, sampling, seed);
  }

  /** Examples in all datasets. */
  get count(): number {
    return this.datasets.reduce((n, d) => n + d.length, 0);
  }

  /** Updates in epoch `epoch`. */
  epochBatchCount(epoch: number): number {
    return this.sampler.epochBatches(epoch).length;
  }

  /** The next batch's examples (with this epoch's negatives drawn) and the dataset it comes from. */
  next(): { dataset: string; examples: TrainingExample[]; epoch: number } {
    const { dataset, indices } = this.sampler.next();
    const { epoch } = this.sampler.state;
    const source = this.datasets[dataset];
    const examples =
      this.groupSize === undefined
        ? indices.map((i) => source[i])
        : indices.map((i) => this.draw(dataset, i, epoch));
    return { dataset: this.names[dataset], examples, epoch };
  }

  get state(): SamplerState {
    return this.sampler.state;
  }

  set state(state: SamplerState) {
    this.sampler.state = state;
  }

  /** A hash of the datasets' texts and teacher scores (a plain single list hashes as earlier versions did). */
  fingerprint(): string {
    if (this.datasets.length === 1) return fingerprintOf(this.datasets[0]).digest('hex').slice(0, 16);
    const h = createHash('sha256');
    this.datasets.forEach((examples, i) => fingerprintOf(examples, h.update(`\u0005${this.names[i]}\u0005`)));
    return h.digest('hex').slice(0, 16);
  }

  /** The data configuration to record in a checkpoint; undefined for a plain example list. */
  describe(): TrainingDataState | undefined {
    if (!this.structured) return undefined;
    return {
      datasets: this.names.map((name, i) => ({ name, count: this.datasets[i].length })),
      sampling: this.sampling,
      ...(this.groupSize === undefined ? {} : { groupSize: this.groupSize }),
    };
  }

  private draw(dataset: number, index: number, epoch: number): TrainingExample {
    return drawNegatives(
      this.datasets[dataset][index],
      { groupSize: this.groupSize!, seed: this.seed, epoch },
      { dataset, index },
    );
  }

  private drawAll(dataset: number, epoch: number): TrainingExample[] {
    return this.datasets[dataset].map((_, i) => this.draw(dataset, i, epoch));
  }

  private checkDataset(examples: TrainingExample[], batchSize: number, name: string | undefined): void {
    if (examples.length === 0) {
      throw new ArgumentError(
        'examples',
        name === undefined
          ? 'no training examples (are there positives in the qrels?)'
          : `dataset '${name}' has no training examples`,
      );
    }
    const k = examples[0].negatives?.length ?? 0;
    examples.forEach((e, i) => {
      checkExampleFields(e, i);
      const n = e.negatives?.length ?? 0;
      if (this.groupSize !== undefined) {
        checkPoolSize(n, this.groupSize - 1, i, name);
      } else if (n !== k) {
        throw new ArgumentError(
          'examples',
          `example ${i} has ${n} hard negatives but example 0 has ${k} (pools of different sizes need groupSize)`,
        );
      }
      if (e.negativeIds !== undefined && e.negativeIds.length !== n) {
        throw new ArgumentError(
          'examples',
          `example ${i} has ${n} negatives but ${e.negativeIds.length} negativeIds`,
        );
      }
    });
    const used = this.groupSize === undefined ? k : this.groupSize - 1;
    if (batchSize === 1 && used === 0) {
      throw new ArgumentError('batchSize', '1 without hard negatives leaves no negatives at all; use >= 2');
    }
  }
}
