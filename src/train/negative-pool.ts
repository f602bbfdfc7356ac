import { ArgumentError } from '../errors.js';
import { Rng, deriveSeed } from '../util/random.js';
import type { TrainingExample } from './examples.js';

/** Seed domain of pool draws, so they never share a stream with batch shuffles or dropout. */
const POOL_SEED = 0x706f6f6c;

/** Where an example sits, for its seed: dataset position and example position within it. */
export interface ExampleKey {
  dataset: number;
  index: number;
}

/**
 * The negatives an example trains with in epoch `epoch` when it carries a pool of hard negatives and each
 * step uses `groupSize - 1` of them (Tevatron's `train_group_size`: one positive and `groupSize - 1`
 * negatives per query). As Tevatron's `TrainDataset`, the pool is shuffled once per example, with a seed
 * derived from (seed, dataset, example), and epoch `e` takes the window starting at `e * (groupSize - 1)`
 * (mod the pool size) of that order, wrapping around: successive epochs walk through the whole pool before
 * a negative comes back, and the draw depends only on (seed, dataset, example, epoch), so a resumed run
 * draws the same. `negativeIds` and the teacher `negativeScores` follow the drawn negatives.
 *
 * A pool smaller than `groupSize - 1` is an error here, where Tevatron samples it with replacement
 * (`random.choices`, unseeded): a repeated negative would be weighed twice in the loss and break the
 * no-duplicates rule of the batch, and an unseeded draw could not be resumed.
 *
 * @returns a new example with `groupSize - 1` negatives (none for `groupSize` 1); `example` is unchanged.
 * @throws {ArgumentError} (argument `groupSize`) if the pool is too small.
 * @example
 * ```ts
 * const e = { query: 'q', positive: 'p', negatives: ['a', 'b', 'c', 'd', 'e'] };
 * drawNegatives(e, { groupSize: 3, seed: 42, epoch: 0 }, { dataset: 0, index: 0 }).negatives; // 2 of them
 * ```
 */
export function drawNegatives(
  example: TrainingExample,
  options: { groupSize: number; seed: number; epoch: number },
  key: ExampleKey,
): TrainingExample {
  const { groupSize, seed, epoch } = options;
  const want = groupSize - 1;
  const pool = example.negatives ?? [];
  checkPoolSize(pool.length, want, key.index);
  const drawn: TrainingExample = { ...example };
  if (want === 0) {
    delete drawn.negatives;
    delete drawn.negativeIds;
    if (drawn.negativeScores !== undefined) drawn.negativeScores = [];
    return drawn;
  }
  const order = new Rng(deriveSeed(seed, POOL_SEED, key.dataset, key.index)).shuffle(pool.map((_, i) => i));
  const offset = (epoch * want) % pool.length;
  const picked = Array.from({ length: want }, (_, j) => order[(offset + j) % pool.length]);
  drawn.negatives = picked.map((i) => pool[i]);
  if (example.negativeIds !== undefined) drawn.negativeIds = picked.map((i) => example.negativeIds![i]);
  if (example.negativeScores !== undefined) {
    drawn.negativeScores = picked.map((i) => example.negativeScores![i]);
  }
  return drawn;
}

/**
 * @throws {ArgumentError} (argument `groupSize`) naming example `index` if its pool holds fewer than `want`
 *   negatives.
 */
export function checkPoolSize(size: number, want: number, index: number, dataset?: string): void {
  if (size >= want) return;
  const where = dataset === undefined ? `example ${index}` : `example ${index} of dataset '${dataset}'`;
  throw new ArgumentError(
    'groupSize',
    `${want + 1} needs ${want} negatives per example, but ${where} has ${size}; mine more negatives or lower groupSize (CLI: --group-size)`,
  );
}
