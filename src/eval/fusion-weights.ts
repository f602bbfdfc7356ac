import { ArgumentError } from '../errors.js';
import { fuse } from '../index/fusion/fuse.js';
import type { ScoreNorm } from '../index/fusion/normalize.js';
import type { Qrels, Run } from '../types.js';
import { createProgress } from '../util/progress.js';
import { measureAggregation, parseMeasures } from './measures.js';
import { evaluateRun } from './metrics.js';

/** Options of {@link optimizeFusionWeights}. */
export interface OptimizeFusionOptions {
  /** Grid step on the simplex; 1 / step must be an integer. Default 0.1 (as ranx). */
  step?: number;
  /** Normalisation before the weighted sum; default `'min-max'` (as ranx). */
  norm?: ScoreNorm;
  /** Only the top `depth` documents of each run take part; default all. */
  depth?: number;
  /** Show a progress bar on stderr (TTY only). Default false. */
  progress?: boolean;
}

/** Result of {@link optimizeFusionWeights}. */
export interface FusionWeights {
  /** Best weights, one per run, summing to 1. */
  weights: number[];
  /** The measure's mean on the training qrels with those weights. */
  score: number;
  /** Every weight vector tried, with its score, in the order tried. */
  trials: { weights: number[]; score: number }[];
}

/**
 * Fit `wsum` fusion weights on training judgements by grid search over the simplex, as ranx's
 * `optimize_fusion(method="wsum")`: every weight vector whose entries are multiples of `step` and sum to
 * 1 is tried (lexicographic order, the first run's weight varying slowest), the fused run is scored with
 * `measure` on `qrelsTrain`, and the best is kept; on equal scores the later vector wins, as in ranx.
 * Tune on training queries and report on held-out ones: weights fitted on the test queries overstate.
 *
 * @param measure one trec_eval measure name, e.g. `'ndcg_cut.10'`.
 * @throws {ArgumentError} for fewer than two runs, a measure that is not exactly one averaged measure, a
 *   step that does not divide 1, or a grid too large to search (more than 1e6 vectors).
 * @example
 * ```ts
 * const { weights } = optimizeFusionWeights(trainQrels, [bm25Train, denseTrain], 'ndcg_cut.10', { step: 0.1 });
 * const hybrid = fuse([bm25Test, denseTest], { method: 'wsum', weights });
 * ```
 */
export function optimizeFusionWeights(
  qrelsTrain: Qrels,
  runs: Run[],
  measure: string,
  options: OptimizeFusionOptions = {},
): FusionWeights {
  if (runs.length < 2) throw new ArgumentError('runs', `need at least two runs to weigh, got ${runs.length}`);
  const specs = parseMeasures([measure]);
  if (specs.length !== 1 || measureAggregation(specs[0].family) === 'sum') {
    throw new ArgumentError(
      'measure',
      `must name one averaged measure such as 'ndcg_cut.10', got '${measure}'`,
    );
  }
  const key = specs[0].key;
  const step = options.step ?? 0.1;
  const divisions = Math.round(1 / step);
  if (!(step > 0 && step <= 1) || Math.abs(divisions * step - 1) > 1e-9) {
    throw new ArgumentError('step', `must divide 1 (0.1, 0.05, 0.25, ...), got ${step}`);
  }
  const grid: number[][] = [];
  const count = (parts: number, total: number): number =>
    parts === 1
      ? 1
      : Array.from({ length: total + 1 }, (_, i) => count(parts - 1, total - i)).reduce((a, b) => a + b);
  if (count(runs.length, divisions) > 1e6) {
    throw new ArgumentError(
      'step',
      `a step of ${step} for ${runs.length} runs gives more than 1e6 weight vectors`,
    );
  }
  const walk = (prefix: number[], left: number): void => {
    if (prefix.length === runs.length - 1) {
      grid.push([...prefix, left].map((units) => units / divisions));
      return;
    }
    for (let units = 0; units <= left; units++) walk([...prefix, units], left - units);
  };
  walk([], divisions);

  const progress = createProgress({
    total: grid.length,
    label: 'fusion weights',
    unit: 'trials',
    quiet: !options.progress,
  });
  const trials: { weights: number[]; score: number }[] = [];
  let best = { weights: grid[0], score: -Infinity };
  for (const weights of grid) {
    const fused = fuse(runs, { method: 'wsum', weights, norm: options.norm, depth: options.depth });
    const score = evaluateRun(qrelsTrain, fused, [measure]).mean[key];
    trials.push({ weights, score });
    if (score >= best.score) best = { weights, score };
    progress.tick();
  }
  progress.done();
  return { weights: best.weights, score: best.score, trials };
}
