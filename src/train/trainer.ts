import { promptedTower } from './prompted-tower.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ArgumentError, BackendError, DenseRetrievalError } from '../errors.js';
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
import { checkExampleFields } from './examples.js';
import type { TrainingExample } from './examples.js';
import { NoDuplicatesBatchSampler } from './sampler.js';
import { ensureBackend } from '../backend/index.js';

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
}

/** Options of {@link Trainer}. */
export interface TrainerOptions {
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
  onStep: true,
  quiet: true,
  progressStream: true,
});

function fingerprint(examples: TrainingExample[]): string {
  const h = createHash('sha256');
  for (const e of examples) {
    h.update(e.query).update('\u0000').update(e.positive).update('\u0000');
    for (const n of e.negatives ?? []) h.update(n).update('\u0001');
    h.update('\u0002');
  }
  return h.digest('hex').slice(0, 16);
}

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
    const maxGradNorm = options.maxGradNorm ?? 1;
    if (!(maxGradNorm >= 0)) throw new ArgumentError('maxGradNorm', `must be >= 0, got ${maxGradNorm}`);
    this.options = options;
    // One source of truth for the similarity: the model's. A loss built with a different one is refused.
    this.loss = options.loss.forSimilarity?.(options.model.similarity) ?? options.loss;
    this.optimizer = options.optimizer ?? new AdamW({ weightDecay: 0.01 });
  }

  private checkExamples(examples: TrainingExample[]): number {
    if (examples.length === 0) {
      throw new ArgumentError('examples', 'no training examples (are there positives in the qrels?)');
    }
    const k = examples[0].negatives?.length ?? 0;
    examples.forEach((e, i) => {
      checkExampleFields(e, i);
      const n = e.negatives?.length ?? 0;
      if (n !== k)
        throw new ArgumentError('examples', `example ${i} has ${n} hard negatives but example 0 has ${k}`);
      if (e.negativeIds !== undefined && e.negativeIds.length !== n) {
        throw new ArgumentError(
          'examples',
          `example ${i} has ${n} negatives but ${e.negativeIds.length} negativeIds`,
        );
      }
    });
    if (this.options.batchSize === 1 && k === 0) {
      throw new ArgumentError('batchSize', '1 without hard negatives leaves no negatives at all; use >= 2');
    }
    return k;
  }

  private buildBatch(examples: TrainingExample[], indices: number[]): TrainingBatch {
    const picked = indices.map((i) => examples[i]);
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
   * Train on `examples`. With `resume`, continue from the newest checkpoint in `outputDir` (a fresh start
   * when there is none); the run's configuration and data must be the same as when it was written.
   */
  async train(examples: TrainingExample[], options: { resume?: boolean } = {}): Promise<TrainResult> {
    checkOptionKeys('train', options, ['resume']);
    await ensureBackend();
    const o = this.options;
    this.checkExamples(examples);
    const seed = o.seed ?? 42;
    const sampler = new NoDuplicatesBatchSampler(examples, o.batchSize, seed);
    let totalSteps = o.steps ?? 0;
    if (o.epochs !== undefined) {
      for (let e = 0; e < o.epochs; e++) totalSteps += sampler.epochBatches(e).length;
    }
    if (o.warmupSteps !== undefined && o.scheduler === undefined && o.warmupSteps > totalSteps) {
      // Checked here, where the real number of steps is known, with the arithmetic that produced it: the
      // scheduler's own check only knows the two numbers.
      const perEpoch = sampler.epochBatches(0).length;
      const how =
        o.epochs !== undefined
          ? `${o.epochs} epoch(s) of ${examples.length} examples = ${totalSteps} steps at batch ${o.batchSize} ` +
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
    const describe = (step: number): TrainerState => ({
      format: 'dense-retrieval.trainer-state',
      version: 1,
      step,
      totalSteps,
      seed,
      batchSize: o.batchSize,
      sampler: sampler.state,
      examples: { count: examples.length, fingerprint: fingerprint(examples) },
      loss: this.loss.toJSON(),
      scheduler: scheduler.toJSON(),
    });

    let step = 0;
    if (options.resume) {
      if (checkpointsDir === undefined) throw new ArgumentError('resume', 'needs outputDir');
      const latest = await latestCheckpoint(checkpointsDir);
      if (latest !== undefined) {
        const state = await readTrainerState(latest);
        const expected = describe(0);
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
        await restoreWeights(latest, variables);
        await this.optimizer.loadState(latest, variables);
        sampler.state = state.sampler;
        step = state.step;
        if (logFile !== undefined) await truncateLog(logFile, step);
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
    }
    const resumedFrom = step;
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
      while (step < totalSteps) {
        const batch = this.buildBatch(examples, sampler.next());
        const epoch = sampler.state.epoch;
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
        };
        if (o.evaluate && ((o.evaluateEvery && step % o.evaluateEvery === 0) || step === totalSteps)) {
          record.eval = await o.evaluate(o.model, step);
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
        }
        if (step % logEvery === 0) await flushLog();
        await o.onStep?.(record);
      }
      await flushLog();
    } finally {
      progress.done();
    }
    return { step, totalSteps, losses, resumedFrom };
  }
}

/** Whether `error` is the wasm module dying (`WebAssembly.RuntimeError`: `Aborted()`, out-of-bounds access). */
function isWasmAbort(error: unknown): error is Error {
  // Typed by hand: this project compiles without the DOM/WebAssembly lib types.
  const RuntimeError = (globalThis as { WebAssembly?: { RuntimeError?: new () => Error } }).WebAssembly
    ?.RuntimeError;
  if (RuntimeError !== undefined && error instanceof RuntimeError) return true;
  // Emscripten's abort() throws a RuntimeError; some builds throw a plain Error with its message.
  return (
    error instanceof Error &&
    /^Aborted\(|memory access out of bounds|Cannot enlarge memory/.test(error.message)
  );
}

/**
 * A wasm abort during a training step, rethrown as a {@link BackendError} that says what almost always
 * causes it (the step outgrew the 4 GiB wasm heap) and what to do; any other error is returned unchanged.
 */
export function explainWasmAbort(error: unknown, step: number, batchSize: number): unknown {
  if (!isWasmAbort(error)) return error;
  const wrapped = new BackendError(
    `training step ${step} (batch size ${batchSize}) aborted inside the tfjs wasm module (${error.message}); ` +
      `the usual cause is the step needing more than the wasm backend's 4 GiB heap. Use gradient caching, e.g. ` +
      `CachedInBatchNegativesLoss({ miniBatchSize: 8 }) (CLI: --cache-mini-batch 8), or a smaller batch size ` +
      `or maxSeqLength. The wasm backend cannot be used again in this process; restart it.`,
  );
  (wrapped as Error & { cause?: unknown }).cause = error;
  return wrapped;
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
