import { promptedTower } from './prompted-tower.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ArgumentError, DenseRetrievalError } from '../errors.js';
import type { GradientResult, RetrievalLoss, TrainingBatch } from '../losses/types.js';
import type { BiEncoder } from '../models/bi-encoder.js';
import { AdamW, clipGradNorm } from '../optim/adamw.js';
import { WarmupCosineScheduler } from '../optim/schedulers.js';
import type { LrScheduler } from '../optim/schedulers.js';
import { writeFileAtomic } from '../util/atomic.js';
import { createProgress } from '../util/progress.js';
import { deriveSeed } from '../util/random.js';
import {
  checkpointName,
  latestCheckpoint,
  pruneCheckpoints,
  readTrainerState,
  restoreWeights,
  writeCheckpoint,
} from './checkpoint.js';
import type { TrainerState } from './checkpoint.js';
import type { TrainingExample } from './examples.js';
import { TrainingStream } from './training-stream.js';
import type { TrainingData } from './training-stream.js';
import { BestModelTracker, checkBestModelOptions } from './best-checkpoint.js';
import type { BestEvaluation, BestModelOptions } from './best-checkpoint.js';
import { EVAL_LOG, recordEvaluation } from './eval-log.js';
import type { EvaluationRecord } from './eval-log.js';
import { ensureBackend } from '../backend/index.js';
import { explainWasmAbort } from './wasm-abort.js';

export { explainWasmAbort };

/** One line of the JSONL training log. */
export interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  examplesPerSecond: number;
  elapsedSeconds: number;
  /** Metrics returned by the evaluation callback, on steps where it ran. */
  eval?: Record<string, number>;
  /** The dataset the batch came from, when training on several. */
  dataset?: string;
}

/** Options of {@link Trainer}; best-model selection and early stopping: {@link BestModelOptions}. */
export interface TrainerOptions extends BestModelOptions {
  model: BiEncoder;
  /** `InBatchNegativesLoss` or `CachedInBatchNegativesLoss`. */
  loss: RetrievalLoss;
  /** Examples per batch (= queries per batch; in-batch negatives are the other queries' positives). */
  batchSize: number;
  /** Passes over the data; give this or `steps`. */
  epochs?: number;
  /** Number of updates; give this or `epochs`. */
  steps?: number;
  /** Peak learning rate of the default warmup-cosine schedule. Default 2e-5. */
  lr?: number;
  /** Final learning rate of the default schedule. Default 0. */
  minLr?: number;
  /** Warmup updates of the default schedule. Default 10% of the total. */
  warmupSteps?: number;
  /** Replaces the default schedule; receives the total number of updates. */
  scheduler?: (totalSteps: number) => LrScheduler;
  /** Default `new AdamW({ weightDecay: 0.01 })`. */
  optimizer?: AdamW;
  /** Clip the global gradient norm to this (default 1; 0 disables clipping, the norm is still logged). */
  maxGradNorm?: number;
  /** Seeds batch order and dropout: same seed, same data, same backend => identical runs. Default 42. */
  seed?: number;
  /**
   * Text prepended to every training query, as sentence-transformers' `prompts` training argument. Default:
   * the query tower's `query` prompt (config_sentence_transformers.json), else none; `''` turns it off.
   * A tower whose Pooling has `include_prompt: false` leaves the prompt's tokens out of pooling in training
   * as in `encode` (the batch the loss receives holds the texts without prompts; the towers apply them).
   */
  queryPrompt?: string;
  /** Text prepended to every training passage; default the passage tower's `document` / `passage` prompt. */
  documentPrompt?: string;
  /** Where checkpoints (`checkpoints/step-N`) and the log (`train_log.jsonl`) go. */
  outputDir?: string;
  /** Write a checkpoint every N updates (needs `outputDir`). */
  checkpointEvery?: number;
  /** Checkpoints kept on disk (oldest removed first). Default 2. */
  keepCheckpoints?: number;
  /** Log (JSONL and progress extras) every N updates. Default 1. */
  logEvery?: number;
  /** Run `evaluate` every N updates and after the last one. */
  evaluateEvery?: number;
  evaluate?: (model: BiEncoder, step: number) => Promise<Record<string, number>>;
  /** Called after every evaluation (after best-model tracking), with what `eval_log.jsonl` records. */
  onEvaluate?: (record: EvaluationRecord) => void | Promise<void>;
  /** Called after every update (after any checkpoint). */
  onStep?: (record: StepRecord) => void | Promise<void>;
  /** No progress bar. */
  quiet?: boolean;
  /** Where the progress bar is drawn (default stderr; drawn only on a TTY). */
  progressStream?: NodeJS.WriteStream;
}

/** What {@link Trainer.train} returns. */
export interface TrainResult {
  /** Updates completed in total (including those before a resume). */
  step: number;
  totalSteps: number;
  /** Losses of the updates run by this call, in order. */
  losses: number[];
  /** The step a resumed run continued from (0 for a fresh run). */
  resumedFrom: number;
  /** The best evaluation (with `metricForBestModel`); with `loadBestAtEnd` the model now holds its weights. */
  best?: BestEvaluation;
  /** Whether early stopping ended the run before `totalSteps`. */
  stoppedEarly: boolean;
  /** The evaluations run by this call (the whole history of a resumed run is `outputDir/eval_log.jsonl`). */
  evaluations: EvaluationRecord[];
}

export const TRAIN_LOG = 'train_log.jsonl';
export const CHECKPOINTS_DIR = 'checkpoints';

const TRAINER_KEYS = optionKeys<TrainerOptions>({
  model: true,
  loss: true,
  batchSize: true,
  epochs: true,
  steps: true,
  lr: true,
  minLr: true,
  warmupSteps: true,
  scheduler: true,
  optimizer: true,
  maxGradNorm: true,
  seed: true,
  queryPrompt: true,
  documentPrompt: true,
  outputDir: true,
  checkpointEvery: true,
  keepCheckpoints: true,
  logEvery: true,
  evaluateEvery: true,
  evaluate: true,
  onEvaluate: true,
  metricForBestModel: true,
  greaterIsBetter: true,
  loadBestAtEnd: true,
  earlyStoppingPatience: true,
  earlyStoppingThreshold: true,
  onStep: true,
  quiet: true,
  progressStream: true,
});

function positiveInt(name: string, v: number | undefined, min = 1): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) {
    throw new ArgumentError(name, `must be an integer >= ${min}, got ${v}`);
  }
}

/**
 * Trains a {@link BiEncoder} on (query, positive[, negatives]) examples. The library owns the gradient
 * lifecycle of every update — compute (plain or gradient-cached loss), clip by global norm, apply AdamW at
 * the schedule's learning rate, dispose — so there is no gradient to forget to reset.
 *
 * Batches come from a seeded sampler that never repeats a query or passage within a batch. With
 * `outputDir` and `checkpointEvery`, checkpoints (weights, optimizer, sampler position, step) are written
 * atomically and `train(examples, { resume: true })` continues from the newest one with the same losses
 * an uninterrupted run would have had. Every logged step is appended to `outputDir/train_log.jsonl`.
 *
 * @example
 * ```ts
 * const model = BiEncoder.tied(await SentenceEncoder.load('bert-tiny'), { similarity: 'dot' });
 * const trainer = new Trainer({
 *   model,
 *   loss: new CachedInBatchNegativesLoss({ miniBatchSize: 16 }),
 *   batchSize: 64, epochs: 1, lr: 2e-5, warmupSteps: 100,
 *   outputDir: 'runs/scifact', checkpointEvery: 200,
 * });
 * const { losses } = await trainer.train(examples);
 * await model.save('runs/scifact/model');
 * trainer.dispose(); // frees the optimizer's moment tensors; the model stays usable
 * ```
 */
export class Trainer {
  readonly options: TrainerOptions;
  readonly optimizer: AdamW;
  /** `options.loss` for the model's similarity (the loss takes the model's; see `forSimilarity`). */
  readonly loss: RetrievalLoss;

  /**
   * Free the optimizer state (AdamW's moment tensors, about twice the model's size). The state outlives
   * `train()` so that a second `train()` call continues with it; call this once you are done training.
   */
  dispose(): void {
    this.optimizer.dispose();
  }

  constructor(options: TrainerOptions) {
    checkOptionKeys('Trainer', options, TRAINER_KEYS);
    const { epochs, steps } = options;
    if ((epochs === undefined) === (steps === undefined)) {
      throw new ArgumentError('epochs', 'give exactly one of epochs or steps');
    }
    positiveInt('epochs', epochs);
    positiveInt('steps', steps);
    positiveInt('batchSize', options.batchSize);
    positiveInt('checkpointEvery', options.checkpointEvery);
    positiveInt('keepCheckpoints', options.keepCheckpoints);
    positiveInt('logEvery', options.logEvery);
    positiveInt('evaluateEvery', options.evaluateEvery);
    if (options.checkpointEvery !== undefined && options.outputDir === undefined) {
      throw new ArgumentError('checkpointEvery', 'needs outputDir');
    }
    if (options.evaluateEvery !== undefined && options.evaluate === undefined) {
      throw new ArgumentError('evaluateEvery', 'needs an evaluate callback');
    }
    checkBestModelOptions(options);
    const maxGradNorm = options.maxGradNorm ?? 1;
    if (!(maxGradNorm >= 0)) throw new ArgumentError('maxGradNorm', `must be >= 0, got ${maxGradNorm}`);
    this.options = options;
    // One source of truth for the similarity: the model's. A loss built with a different one is refused.
    this.loss = options.loss.forSimilarity?.(options.model.similarity) ?? options.loss;
    this.optimizer = options.optimizer ?? new AdamW({ weightDecay: 0.01 });
  }

  private buildBatch(picked: TrainingExample[]): TrainingBatch {
    const hasNegatives = picked[0].negatives !== undefined && picked[0].negatives.length > 0;
    // The texts as given: the prompts are applied by the towers (promptedTower), so that a Pooling with
    // include_prompt false can leave the prompt tokens out of pooling in training as it does in encode.
    return {
      queries: picked.map((e) => e.query),
      positives: picked.map((e) => e.positive),
      negatives: hasNegatives ? picked.map((e) => e.negatives!) : undefined,
      passageIds: [
        ...picked.map((e) => e.positiveId ?? e.positive),
        ...(hasNegatives ? picked.flatMap((e) => e.negativeIds ?? e.negatives!) : []),
      ],
      scores: picked.every((e) => e.positiveScore !== undefined)
        ? picked.map((e) => [e.positiveScore!, ...(e.negativeScores ?? [])])
        : undefined,
    };
  }

  /** The prompts training prepends: the options', else the towers' own `query` / `document` prompts. */
  prompts(): { query: string; document: string } {
    const towerPrompts = (tower: unknown): Record<string, string> =>
      ((tower as { prompts?: Record<string, string> } | null)?.prompts ?? {}) as Record<string, string>;
    const q = towerPrompts(this.options.model.queryEncoder);
    const d = towerPrompts(this.options.model.passageEncoder);
    return {
      query: this.options.queryPrompt ?? q.query ?? '',
      document: this.options.documentPrompt ?? d.document ?? d.passage ?? d.corpus ?? '',
    };
  }

  /**
   * Train on `examples`, or on {@link TrainingData}: several named datasets (each batch from one of them,
   * interleaved round-robin or in proportion to their sizes) and negative pools (`groupSize`). With
   * `resume`, continue from the newest checkpoint in `outputDir` (a fresh start when there is none); the
   * run's configuration and data must be the same as when it was written.
   */
  async train(
    examples: TrainingExample[] | TrainingData,
    options: { resume?: boolean } = {},
  ): Promise<TrainResult> {
    checkOptionKeys('train', options, ['resume']);
    await ensureBackend();
    const o = this.options;
    const seed = o.seed ?? 42;
    const sampler = new TrainingStream(examples, o.batchSize, seed);
    const dataState = sampler.describe();
    let totalSteps = o.steps ?? 0;
    if (o.epochs !== undefined) {
      for (let e = 0; e < o.epochs; e++) totalSteps += sampler.epochBatchCount(e);
    }
    if (o.warmupSteps !== undefined && o.scheduler === undefined && o.warmupSteps > totalSteps) {
      // Checked here, where the real number of steps is known, with the arithmetic that produced it: the
      // scheduler's own check only knows the two numbers.
      const perEpoch = sampler.epochBatchCount(0);
      const how =
        o.epochs !== undefined
          ? `${o.epochs} epoch(s) of ${sampler.count} examples = ${totalSteps} steps at batch ${o.batchSize} ` +
            `(1 epoch = ${perEpoch} steps at batch ${o.batchSize})`
          : `steps is ${totalSteps}`;
      throw new ArgumentError(
        'warmupSteps',
        `(${o.warmupSteps}) must not exceed the number of training steps: ${how}; lower warmupSteps or train longer`,
      );
    }
    const scheduler = o.scheduler
      ? o.scheduler(totalSteps)
      : new WarmupCosineScheduler({
          maxLr: o.lr ?? 2e-5,
          minLr: o.minLr ?? 0,
          warmupSteps: o.warmupSteps ?? Math.floor(totalSteps * 0.1),
          totalSteps,
        });
    const variables = o.model.trainableVariables();
    const maxGradNorm = o.maxGradNorm ?? 1;
    const logEvery = o.logEvery ?? 1;
    const checkpointsDir = o.outputDir === undefined ? undefined : path.join(o.outputDir, CHECKPOINTS_DIR);
    const logFile = o.outputDir === undefined ? undefined : path.join(o.outputDir, TRAIN_LOG);
    const evalLogFile = o.outputDir === undefined ? undefined : path.join(o.outputDir, EVAL_LOG);
    const tracker =
      o.metricForBestModel === undefined
        ? undefined
        : new BestModelTracker({ ...o, metricForBestModel: o.metricForBestModel }, checkpointsDir);
    const describe = (step: number): TrainerState => ({
      format: 'dense-retrieval.trainer-state',
      version: 1,
      step,
      totalSteps,
      seed,
      batchSize: o.batchSize,
      sampler: sampler.state,
      examples: { count: sampler.count, fingerprint: sampler.fingerprint() },
      ...(dataState === undefined ? {} : { data: dataState }),
      loss: this.loss.toJSON(),
      scheduler: scheduler.toJSON(),
      ...(tracker && { bestModel: tracker.state }),
    });

    let step = 0;
    if (options.resume) {
      if (checkpointsDir === undefined) throw new ArgumentError('resume', 'needs outputDir');
      const latest = await latestCheckpoint(checkpointsDir);
      if (latest !== undefined) {
        const state = await readTrainerState(latest);
        const expected = describe(0);
        // A data difference also changes totalSteps (epochs of other batches): name it first.
        if (JSON.stringify(state.data ?? null) !== JSON.stringify(expected.data ?? null)) {
          throw new ArgumentError(
            'resume',
            `checkpoint ${latest} has data ${JSON.stringify(state.data ?? 'a plain example list')} but this run has ${JSON.stringify(expected.data ?? 'a plain example list')}`,
          );
        }
        const mismatch = (['totalSteps', 'seed', 'batchSize'] as const).find(
          (key) => state[key] !== expected[key],
        );
        if (mismatch !== undefined) {
          throw new ArgumentError(
            'resume',
            `checkpoint ${latest} has ${mismatch} ${state[mismatch]} but this run has ${expected[mismatch]}`,
          );
        }
        if (state.examples.fingerprint !== expected.examples.fingerprint) {
          throw new ArgumentError('resume', `checkpoint ${latest} was trained on other examples`);
        }
        await tracker?.resume(state.bestModel, latest);
        await restoreWeights(latest, variables);
        await this.optimizer.loadState(latest, variables);
        sampler.state = state.sampler;
        step = state.step;
        if (logFile !== undefined) await truncateLog(logFile, step);
        if (evalLogFile !== undefined) await truncateLog(evalLogFile, step);
      }
    }
    if (step === 0 && checkpointsDir !== undefined) {
      if (!options.resume && (await latestCheckpoint(checkpointsDir)) !== undefined) {
        throw new ArgumentError(
          'outputDir',
          `${o.outputDir} holds checkpoints of an earlier run; resume it or use another directory`,
        );
      }
      // A fresh run starts a fresh log.
      if (logFile !== undefined) await truncateLog(logFile, 0);
      if (evalLogFile !== undefined) await truncateLog(evalLogFile, 0);
    }
    const resumedFrom = step;
    if (step === 0) await tracker?.prune(); // best weights of a killed run that left no checkpoint
    if (o.outputDir !== undefined) await fs.mkdir(o.outputDir, { recursive: true });

    const progress = createProgress({
      total: totalSteps - step,
      label: 'train',
      unit: 'steps',
      quiet: o.quiet,
      stream: o.progressStream,
    });
    const { query: qp, document: dp } = this.prompts();
    const towers = {
      query: promptedTower(o.model.queryEncoder, qp),
      passage: promptedTower(o.model.passageEncoder, dp),
    };
    const losses: number[] = [];
    const evaluations: EvaluationRecord[] = [];
    const start = Date.now();
    let examplesSeen = 0;
    let logLines: string[] = [];
    const flushLog = async () => {
      if (logFile === undefined || logLines.length === 0) return;
      // Whole lines per append: a killed run leaves complete records only.
      await fs.appendFile(logFile, logLines.join(''));
      logLines = [];
    };
    try {
      while (step < totalSteps && !tracker?.stopped) {
        const next = sampler.next();
        const batch = this.buildBatch(next.examples);
        const epoch = next.epoch;
        const lr = scheduler.lrAt(step);
        let result: GradientResult;
        try {
          result = this.loss.computeGradients(towers.query, towers.passage, batch, {
            dropoutSeed: deriveSeed(seed, step),
          });
        } catch (error) {
          throw explainWasmAbort(error, step + 1, o.batchSize);
        }
        const { loss, grads } = result;
        let gradNorm: number;
        try {
          if (!Number.isFinite(loss)) {
            throw new DenseRetrievalError(
              `loss is ${loss} at step ${step + 1}; lower the learning rate or scale`,
            );
          }
          gradNorm = clipGradNorm(grads, maxGradNorm > 0 ? maxGradNorm : Number.POSITIVE_INFINITY);
          this.optimizer.applyGradients(grads, lr);
        } finally {
          for (const g of grads.values()) g.dispose();
        }
        step += 1;
        examplesSeen += batch.queries.length;
        losses.push(loss);
        const elapsed = (Date.now() - start) / 1000;
        const record: StepRecord = {
          step,
          epoch,
          loss,
          lr,
          gradNorm,
          examplesPerSecond: elapsed > 0 ? examplesSeen / elapsed : 0,
          elapsedSeconds: elapsed,
          ...(sampler.names.length > 1 ? { dataset: next.dataset } : {}),
        };
        if (o.evaluate && ((o.evaluateEvery && step % o.evaluateEvery === 0) || step === totalSteps)) {
          record.eval = await o.evaluate(o.model, step);
          evaluations.push(
            await recordEvaluation(
              { step, epoch, metrics: record.eval, totalSteps, variables, progress },
              {
                tracker,
                file: evalLogFile,
                onEvaluate: o.onEvaluate,
              },
            ),
          );
        }
        if (step % logEvery === 0 || step === totalSteps || record.eval) {
          logLines.push(JSON.stringify(record) + '\n');
        }
        progress.tick(1, {
          loss: loss.toFixed(4),
          lr: lr.toExponential(2),
          'ex/s': record.examplesPerSecond.toFixed(1),
        });
        if (checkpointsDir !== undefined && o.checkpointEvery && step % o.checkpointEvery === 0) {
          await flushLog();
          await writeCheckpoint(
            path.join(checkpointsDir, checkpointName(step)),
            variables,
            this.optimizer,
            describe(step),
          );
          await pruneCheckpoints(checkpointsDir, o.keepCheckpoints ?? 2);
          await tracker?.prune();
        }
        if (step % logEvery === 0) await flushLog();
        await o.onStep?.(record);
      }
      await flushLog();
      if (tracker?.best !== undefined && tracker.best.step !== step) await tracker.loadBest(variables);
    } finally {
      progress.done();
      tracker?.dispose();
    }
    return {
      step,
      totalSteps,
      losses,
      resumedFrom,
      best: tracker?.best,
      stoppedEarly: step < totalSteps,
      evaluations,
    };
  }
}

/** Drop log records after `step` (they belong to the part of a killed run that is being redone). */
async function truncateLog(file: string, step: number): Promise<void> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const kept = text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => {
      try {
        return (JSON.parse(line) as StepRecord).step <= step;
      } catch {
        return false; // a torn last line of a killed run
      }
    });
  await writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}

/**
 * Save the trained model's files into `dir` without removing what else is there (checkpoints, log): the
 * same as `model.save(dir)`, whose default keeps other files and writes a manifest that loading checks, so a
 * kill during the save never leaves a directory that loads as a mix of two models.
 *
 * @example
 * ```ts
 * await trainer.train(examples);
 * await saveModelInto(model, 'runs/scifact'); // runs/scifact keeps checkpoints/ and train_log.jsonl
 * ```
 */
export async function saveModelInto(model: BiEncoder, dir: string): Promise<void> {
  await model.save(dir, { overwrite: 'files' });
}
