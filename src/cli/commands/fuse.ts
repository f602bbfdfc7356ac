import { parseDecimal } from '../../util/number.js';
import { readQrels } from '../../data/qrels.js';
import { readRun, writeRun } from '../../data/run.js';
import { ArgumentError } from '../../errors.js';
import { optimizeFusionWeights } from '../../eval/fusion-weights.js';
import { FUSION_METHODS, SCORE_NORMS, fuse } from '../../index/fuse.js';
import type { FusionMethod, ScoreNorm } from '../../index/fuse.js';
import { optionalChoice, optionalFloat, optionalInt, optionalString, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { existsSync } from 'node:fs';

/** `dense-retrieval fuse`: fuse TREC runs (RRF, CombSUM, CombMNZ, CombMAX, weighted sum). */
export const fuseCommand: Command = {
  name: 'fuse',
  summary: 'fuse TREC runs (rrf, combsum, combmnz, combmax, wsum) into one run',
  help: `Usage: dense-retrieval fuse --run A --run B [--run ...] --output FUSED [options]

Fuse runs per query, as ranx defines the methods: rrf sums 1/(k + rank); combsum, combmnz (sum times
the number of runs that retrieved the document), combmax and wsum (weighted sum) work on scores
normalised per query first.

Options:
  --run FILE            a TREC run to fuse (repeat, at least two)
  --output FILE         where to write the fused run (required)
  --method NAME         ${FUSION_METHODS.join('|')} (default rrf)
  --norm NAME           ${SCORE_NORMS.join('|')} (default min-max; ignored by rrf)
  --k N                 rrf constant (default 60)
  --depth N             only the top N documents of each run take part (default all)
  --weights LIST        wsum: comma-separated weights, one per run (default equal)
  --train-qrels FILE    wsum: fit the weights on these judgements by grid search (print them on stderr)
  --measure NAME        measure to fit the weights for (default ndcg_cut.10)
  --step X              grid step on the weight simplex (default 0.1)
  --output-depth N      write at most N documents per query (default all)
  --tag TAG             run tag (default the method name)
  -h, --help            show this help
`,
  options: {
    run: { type: 'string', multiple: true },
    output: { type: 'string' },
    method: { type: 'string' },
    norm: { type: 'string' },
    k: { type: 'string' },
    depth: { type: 'string' },
    weights: { type: 'string' },
    'train-qrels': { type: 'string' },
    measure: { type: 'string' },
    step: { type: 'string' },
    'output-depth': { type: 'string' },
    tag: { type: 'string' },
  },
  async run(values) {
    const files = (Array.isArray(values.run) ? values.run : []).map(String);
    if (files.length < 2) throw new UsageError('--run: give at least two runs to fuse');
    for (const file of files) if (!existsSync(file)) throw new UsageError(`--run: no such file: ${file}`);
    const output = requireString(values, 'output');
    const method: FusionMethod = optionalChoice(values, 'method', FUSION_METHODS) ?? 'rrf';
    const norm: ScoreNorm | undefined = optionalChoice(values, 'norm', SCORE_NORMS);
    const k = optionalFloat(values, 'k');
    const depth = optionalInt(values, 'depth', 1);
    const outputDepth = optionalInt(values, 'output-depth', 1);
    const weightsText = optionalString(values, 'weights');
    const trainQrels = optionalString(values, 'train-qrels');
    if ((weightsText !== undefined || trainQrels !== undefined) && method !== 'wsum') {
      throw new UsageError(`--weights and --train-qrels need --method wsum, not ${method}`);
    }
    if (weightsText !== undefined && trainQrels !== undefined) {
      throw new UsageError('give either --weights or --train-qrels, not both');
    }
    if (trainQrels !== undefined && !existsSync(trainQrels)) {
      throw new UsageError(`--train-qrels: no such file: ${trainQrels}`);
    }
    let weights: number[] | undefined;
    if (weightsText !== undefined) {
      // The shared strict grammar: Number() would read '0x1' as 1 and '' as 0.
      const parsed = weightsText.split(',').map((w) => parseDecimal(w.trim()));
      if (parsed.some((w) => w === undefined) || parsed.length !== files.length) {
        throw new UsageError(`--weights: need ${files.length} comma-separated numbers, got '${weightsText}'`);
      }
      weights = parsed as number[];
    }
    const runs = [];
    for (const file of files) runs.push(await readRun(file));
    try {
      if (trainQrels !== undefined) {
        const measure = optionalString(values, 'measure') ?? 'ndcg_cut.10';
        const fitted = optimizeFusionWeights(await readQrels(trainQrels), runs, measure, {
          step: optionalFloat(values, 'step'),
          norm,
          depth,
          progress: true,
        });
        weights = fitted.weights;
        process.stderr.write(
          `fuse: weights ${weights.join(',')} (${measure} ${fitted.score.toFixed(4)} on ${trainQrels})\n`,
        );
      }
      const fused = fuse(runs, { method, norm, k, depth, weights });
      await writeRun(output, fused, { tag: optionalString(values, 'tag') ?? method, depth: outputDepth });
    } catch (error) {
      if (error instanceof ArgumentError) throw new UsageError(`--${error.message}`);
      throw error;
    }
  },
};
