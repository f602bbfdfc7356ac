import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TrainResult } from '../train/trainer.js';
import { EVAL_LOG, readEvaluationLog } from '../train/eval-log.js';
import { writeModelCard } from '../train/model-card.js';
import type { ModelCardResult } from '../train/model-card.js';

/** What `train` knows about its run, for the model card. */
export interface TrainRunFacts {
  out: string;
  /** --model as given. */
  source: string;
  /** Dataset names (a BEIR directory's name). */
  datasets: string[];
  /** The split evaluated on (--eval-split). */
  evalSplit?: string;
  trainingExamples: number;
  loss: Record<string, unknown>;
  hyperparameters: Record<string, string | number | boolean | undefined>;
  result: TrainResult;
}

/**
 * Write `out/README.md` after `train` saved the model: the saved weights' evaluation (the best one with
 * --metric, else the final one), the whole evaluation history of the run (eval_log.jsonl, resumed parts
 * included) and the run's settings. A README.md the user wrote is left alone (the result says so).
 */
export async function writeTrainModelCard(facts: TrainRunFacts): Promise<ModelCardResult> {
  const { out, source, result } = facts;
  const history = await readEvaluationLog(path.join(out, EVAL_LOG));
  const last = history.at(-1);
  const saved = result.best ?? (last?.step === result.step ? last : undefined);
  const dataset = facts.datasets[0] ?? 'dataset';
  // A local directory is not a Hub id: named by its absolute path, it is not linked or put in `base_model`.
  const baseModel = source.startsWith('scratch:')
    ? undefined
    : existsSync(source)
      ? path.resolve(source)
      : source;
  return writeModelCard(out, {
    baseModel,
    datasets: facts.datasets,
    trainingExamples: facts.trainingExamples,
    loss: facts.loss,
    hyperparameters: facts.hyperparameters,
    evaluation:
      saved === undefined
        ? undefined
        : {
            dataset,
            split: facts.evalSplit,
            metrics: saved.metrics,
            step: saved.step,
            selectedBy: result.best?.metric,
          },
    evaluationHistory: history,
  });
}
