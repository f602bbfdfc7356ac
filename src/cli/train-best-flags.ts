import { parseMeasures } from '../eval/measures.js';
import type { BestModelOptions } from '../train/best-checkpoint.js';
import { optionalInt, optionalString } from './args.js';
import type { OptionValues } from './command.js';
import { UsageError } from './errors.js';

/** Measures `train --eval-split` computes when no --metric asks for another (createEvaluationCallback's). */
const DEFAULT_MEASURES = ['ndcg_cut.10', 'recall.100'];

/**
 * `train --metric NAME [--patience N]`: the Trainer's best-model options (the best model is what --out
 * holds, so `loadBestAtEnd` follows --metric) and the measures the evaluation computes (the defaults plus
 * NAME). Checked before any data or model is loaded.
 *
 * @throws {UsageError} for --metric without --eval-split, an unknown measure, --patience without --metric.
 */
export function bestModelFlags(
  values: OptionValues,
  evalSplit: string | undefined,
): { trainer: BestModelOptions; measures: string[] } {
  const metric = optionalString(values, 'metric');
  const patience = optionalInt(values, 'patience', 1);
  if (patience !== undefined && metric === undefined) throw new UsageError('--patience needs --metric');
  if (metric === undefined) return { trainer: {}, measures: DEFAULT_MEASURES };
  if (evalSplit === undefined) throw new UsageError('--metric needs --eval-split');
  let key: string;
  try {
    const specs = parseMeasures([metric]);
    if (specs.length !== 1) throw new Error(`${metric} names ${specs.length} measures`);
    key = specs[0].key;
  } catch (error) {
    throw new UsageError(
      `--metric ${metric}: not one trec_eval measure (${(error as Error).message}); e.g. ndcg_cut_10, recall_100, map`,
    );
  }
  const measures = parseMeasures(DEFAULT_MEASURES)
    .map((m) => m.key)
    .includes(key)
    ? DEFAULT_MEASURES
    : [...DEFAULT_MEASURES, metric];
  return {
    trainer: { metricForBestModel: key, loadBestAtEnd: true, earlyStoppingPatience: patience },
    measures,
  };
}
