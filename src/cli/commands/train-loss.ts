import { CachedInBatchNegativesLoss } from '../../losses/cached-in-batch-negatives.js';
import { CachedLoss } from '../../losses/cached.js';
import { DistillKLDivLoss } from '../../losses/distill-kl.js';
import { CachedGISTEmbedLoss, GISTEmbedLoss } from '../../losses/gist-embed.js';
import { InBatchNegativesLoss } from '../../losses/in-batch-negatives.js';
import { MarginMSELoss } from '../../losses/margin-mse.js';
import { MatryoshkaLoss } from '../../losses/matryoshka.js';
import type { RetrievalLoss } from '../../losses/types.js';
import type { BiEncoder } from '../../models/bi-encoder.js';
import { loadRetrievalModel } from '../../models/load-retrieval-model.js';
import type { TrainingExample } from '../../train/examples.js';
import type { OptionValues } from '../command.js';
import { optionalChoice, optionalFloat } from '../args.js';
import { UsageError } from '../errors.js';

/** The losses `train --loss` offers. */
export const LOSS_NAMES = ['mnrl', 'cached-mnrl', 'matryoshka', 'margin-mse', 'distill-kl', 'gist'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/** The flags of `train` that choose and configure the loss (merged into the command's options). */
export const LOSS_OPTIONS = {
  loss: { type: 'string' },
  'matryoshka-dims': { type: 'string' },
  guide: { type: 'string' },
  'gist-margin': { type: 'string' },
  'gist-margin-strategy': { type: 'string' },
  temperature: { type: 'string' },
} as const;

/** Their lines of `train --help`. */
export const LOSS_HELP = `  --loss NAME             mnrl (in-batch negatives, default) | cached-mnrl (mnrl with the gradient
                          cache; mini-batch --cache-mini-batch, default 32) | matryoshka (mnrl on
                          each --matryoshka-dims prefix) | margin-mse | distill-kl (distillation from
                          teacher scores of a JSONL --train-file) | gist (in-batch negatives filtered
                          by a --guide model; cosine models only). --cache-mini-batch caches any of them
  --matryoshka-dims LIST  prefix widths for --loss matryoshka, e.g. 384,128,64
  --guide MODEL           frozen guide model of --loss gist (directory, hub id or scratch:)
  --gist-margin X         --loss gist: mask candidates the guide scores above positive - X (default 0)
  --gist-margin-strategy S  absolute (positive - X, default) | relative (positive * (1 - X))
  --temperature X         softmax temperature of distill-kl (default 1) or gist (default 0.01)`;

/** The loss a `train` run asked for, validated before any data or model is loaded. */
export interface LossChoice {
  name: LossName;
  /** --cache-mini-batch (cached-mnrl without it: 32, sentence-transformers' default). */
  miniBatch: number | undefined;
  scale: number | undefined;
  symmetric: boolean;
  dims: number[] | undefined;
  guide: string | undefined;
  margin: number | undefined;
  marginStrategy: 'absolute' | 'relative' | undefined;
  temperature: number | undefined;
}

const APPLIES: Record<string, readonly LossName[]> = {
  scale: ['mnrl', 'cached-mnrl', 'matryoshka'],
  symmetric: ['mnrl', 'cached-mnrl', 'matryoshka'],
  'matryoshka-dims': ['matryoshka'],
  guide: ['gist'],
  'gist-margin': ['gist'],
  'gist-margin-strategy': ['gist'],
  temperature: ['distill-kl', 'gist'],
};

/**
 * Parse and cross-check the loss flags (`scale`, `symmetric`, `miniBatch` are parsed by `train` itself).
 *
 * @throws {UsageError} an unknown loss, a flag of another loss, a malformed value, or a missing
 * `--matryoshka-dims` / `--guide`.
 */
export function parseLossFlags(
  values: OptionValues,
  common: { scale: number | undefined; symmetric: boolean; miniBatch: number | undefined },
): LossChoice {
  const name = optionalChoice(values, 'loss', LOSS_NAMES) ?? 'mnrl';
  for (const [flag, losses] of Object.entries(APPLIES)) {
    if (values[flag] !== undefined && values[flag] !== false && !losses.includes(name)) {
      throw new UsageError(`--${flag} applies to --loss ${losses.join('|')}, not --loss ${name}`);
    }
  }
  let dims: number[] | undefined;
  if (name === 'matryoshka') {
    const raw = values['matryoshka-dims'];
    if (typeof raw !== 'string') {
      throw new UsageError('--loss matryoshka needs --matryoshka-dims, e.g. --matryoshka-dims 384,128,64');
    }
    dims = raw.split(',').map((s) => {
      const t = s.trim();
      if (!/^[0-9]+$/.test(t) || Number(t) < 1) {
        throw new UsageError(`--matryoshka-dims must be positive integers separated by commas, got '${raw}'`);
      }
      return Number(t);
    });
  }
  if (name === 'gist' && typeof values.guide !== 'string') {
    throw new UsageError(
      '--loss gist needs --guide MODEL (the frozen model that filters in-batch negatives)',
    );
  }
  const margin = optionalFloat(values, 'gist-margin');
  const temperature = optionalFloat(values, 'temperature');
  if (temperature !== undefined && !(temperature > 0)) {
    throw new UsageError(`--temperature must be > 0, got ${temperature}`);
  }
  const miniBatch = common.miniBatch ?? (name === 'cached-mnrl' ? 32 : undefined);
  return {
    name,
    miniBatch,
    scale: common.scale,
    symmetric: common.symmetric,
    dims,
    guide: typeof values.guide === 'string' ? values.guide : undefined,
    margin,
    marginStrategy: optionalChoice(values, 'gist-margin-strategy', ['absolute', 'relative'] as const),
    temperature,
  };
}

/**
 * The distillation losses need teacher scores and negatives on every example: a {@link UsageError} saying
 * where they come from otherwise (before a model is loaded).
 */
export function checkLossData(choice: LossChoice, examples: readonly TrainingExample[]): void {
  if (choice.name !== 'margin-mse' && choice.name !== 'distill-kl') return;
  const missing = examples.findIndex((e) => e.positiveScore === undefined || e.negativeScores === undefined);
  if (missing >= 0) {
    throw new UsageError(
      `--loss ${choice.name} distils teacher scores, but training example ${missing + 1} has none: train ` +
        'from a JSONL --train-file whose lines carry "scores": {"positive": ..., "negatives": [...]} ' +
        '(e.g. a cross-encoder\'s scores; see docs/training.md, "Distillation")',
    );
  }
  if (examples.some((e) => (e.negatives?.length ?? 0) === 0)) {
    throw new UsageError(
      `--loss ${choice.name} compares positives with negatives: every example needs negatives`,
    );
  }
}

/**
 * The loss of `choice` for `model`; `describe` completes train's "batch N" message (the gradient cache,
 * then the loss unless it is the default), `dispose` frees the guide.
 */
export async function buildLoss(
  choice: LossChoice,
  model: BiEncoder,
  options: { quiet: boolean },
): Promise<{ loss: RetrievalLoss; describe: string; dispose(): void }> {
  const mb = choice.miniBatch;
  const cached = mb === undefined ? '' : ` (gradient cache, mini-batch ${mb})`;
  const mnrlOptions = { scale: choice.scale, symmetric: choice.symmetric };
  const mnrl = () =>
    mb === undefined
      ? new InBatchNegativesLoss(mnrlOptions)
      : new CachedInBatchNegativesLoss({ ...mnrlOptions, miniBatchSize: mb });
  const none = () => undefined;
  switch (choice.name) {
    case 'mnrl':
    case 'cached-mnrl':
      return { loss: mnrl(), describe: cached, dispose: none };
    case 'matryoshka': {
      const dims = choice.dims as number[];
      const width = (model.queryEncoder as { dim?: number }).dim ?? Infinity;
      const over = dims.find((d) => d > width);
      if (over !== undefined) {
        throw new UsageError(`--matryoshka-dims ${over} exceeds the model's ${width} dimensions`);
      }
      return {
        loss: new MatryoshkaLoss(mnrl(), { dims }),
        describe: `${cached}, Matryoshka loss at ${dims.join('/')} dims`,
        dispose: none,
      };
    }
    case 'margin-mse':
    case 'distill-kl': {
      const inner =
        choice.name === 'margin-mse'
          ? new MarginMSELoss()
          : new DistillKLDivLoss({ temperature: choice.temperature });
      return {
        loss: mb === undefined ? inner : new CachedLoss(inner, { miniBatchSize: mb }),
        describe: `${cached}, ${choice.name === 'margin-mse' ? 'MarginMSE loss' : `DistillKLDiv loss (temperature ${String(inner.toJSON().temperature)})`}`,
        dispose: none,
      };
    }
    case 'gist': {
      if (model.similarity !== 'cosine') {
        throw new UsageError(
          `--loss gist trains cosine similarity, but the model's is ${model.similarity}; add --similarity cosine`,
        );
      }
      const guideModel = await loadRetrievalModel(choice.guide as string, { quiet: options.quiet });
      if (!guideModel.tied) {
        guideModel.dispose();
        throw new UsageError(`--guide ${choice.guide} is an untied model; the guide must be one encoder`);
      }
      const gistOptions = {
        margin: choice.margin,
        marginStrategy: choice.marginStrategy,
        temperature: choice.temperature,
      };
      const guide = guideModel.queryEncoder;
      return {
        loss:
          mb === undefined
            ? new GISTEmbedLoss(guide, gistOptions)
            : new CachedGISTEmbedLoss(guide, { ...gistOptions, miniBatchSize: mb }),
        describe: `${cached}, GISTEmbed loss (guide ${choice.guide})`,
        dispose: () => guideModel.dispose(),
      };
    }
  }
}
