import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import type { TrainerState } from '../../src/train/checkpoint.js';
import { EarlyStopping, isImprovement } from '../../src/train/early-stopping.js';
import type { TrainingExample } from '../../src/train/examples.js';
import { Trainer } from '../../src/train/trainer.js';
import type { StepRecord, TrainerOptions } from '../../src/train/trainer.js';
import { ToyEncoder } from '../losses/toy-encoder.js';
import { tmpDir } from '../helpers/tmp.js';

before(async () => {
  await initBackend();
});

const TOPICS = 'river mountain desert ocean forest glacier volcano canyon meadow island swamp tundra'.split(
  ' ',
);
const EXAMPLES: TrainingExample[] = TOPICS.flatMap((t, i) =>
  ['red', 'blue', 'green'].map((c) => ({
    query: `what about the ${c} ${t}`,
    positive: `a ${t} that is ${c} near the ${TOPICS[(i + 1) % TOPICS.length]}`,
  })),
);
const PROBE = ['the red river', 'a green forest near the ocean'];

function model(seed = 1): BiEncoder<ToyEncoder> {
  return BiEncoder.tied(new ToyEncoder({ seed, vocab: 128, embed: 16, hidden: 32, dim: 16 }));
}

/** The model's embeddings of the probe texts (what "the same model" means to a user). */
function embeddings(m: BiEncoder<ToyEncoder>): Float32Array {
  const t = m.queryEncoder.embed(PROBE);
  const data = t.dataSync() as Float32Array;
  t.dispose();
  return data;
}

/** Trainer options with an evaluate callback whose `score` at step s is `scores[s]`. */
function scripted(
  m: BiEncoder<ToyEncoder>,
  scores: Record<number, number>,
  seen: Map<number, Float32Array>,
): TrainerOptions {
  return {
    model: m,
    loss: new InBatchNegativesLoss(),
    batchSize: 4,
    steps: 10,
    lr: 0.05,
    warmupSteps: 1,
    seed: 5,
    quiet: true,
    evaluateEvery: 2,
    evaluate: async (_m, step) => {
      seen.set(step, embeddings(m));
      return { score: scores[step], other: step };
    },
  };
}

for (const where of ['memory', 'disk'] as const) {
  test(`loadBestAtEnd leaves the weights of the best evaluation (${where}), and no tensors behind`, async () => {
    const m = model();
    const seen = new Map<number, Float32Array>();
    const counts: number[] = [];
    const dir = where === 'disk' ? tmpDir() : undefined;
    const trainer = new Trainer({
      ...scripted(m, { 2: 0.1, 4: 0.3, 6: 0.7, 8: 0.5, 10: 0.6 }, seen),
      metricForBestModel: 'score',
      loadBestAtEnd: true,
      outputDir: dir,
      onStep: () => {
        counts.push(tf.memory().numTensors);
      },
    });
    const result = await trainer.train(EXAMPLES);
    assert.equal(result.step, 10);
    assert.equal(result.stoppedEarly, false);
    assert.deepEqual(result.best, {
      step: 6,
      metric: 'score',
      value: 0.7,
      metrics: { score: 0.7, other: 6 },
    });
    assert.notDeepEqual(seen.get(10), seen.get(6), 'training moved the weights after the peak');
    assert.deepEqual(embeddings(m), seen.get(6));
    assert.equal(tf.memory().numTensors, counts[counts.length - 1], 'loading the best leaks nothing');
    assert.deepEqual(
      new Set(counts.slice(1)),
      new Set([counts[1]]),
      `numTensors per step: ${counts.join(',')}`,
    );
    if (dir !== undefined) {
      assert.deepEqual(readdirSync(path.join(dir, 'checkpoints')), ['best-step-00000006']);
      const best = JSON.parse(
        readFileSync(path.join(dir, 'checkpoints', 'best-step-00000006', 'best.json'), 'utf8'),
      );
      assert.equal(best.step, 6);
      assert.equal(best.metrics.score, 0.7);
    }
    trainer.dispose();
    m.dispose();
  });
}

test('without loadBestAtEnd the best is reported but the model keeps its last weights', async () => {
  const m = model();
  const seen = new Map<number, Float32Array>();
  const trainer = new Trainer({
    ...scripted(m, { 2: 0.1, 4: 0.9, 6: 0.7, 8: 0.5, 10: 0.6 }, seen),
    metricForBestModel: 'score',
  });
  const result = await trainer.train(EXAMPLES);
  assert.equal(result.best?.step, 4);
  assert.deepEqual(embeddings(m), seen.get(10));
  trainer.dispose();
  m.dispose();
});

test('greaterIsBetter false picks the smallest value; a trec_eval name finds its key', async () => {
  const m = model();
  const seen = new Map<number, Float32Array>();
  const base = scripted(m, {}, seen);
  const values: Record<number, number> = { 2: 0.5, 4: 0.2, 6: 0.4, 8: 0.3, 10: 0.6 };
  const trainer = new Trainer({
    ...base,
    evaluate: async (_m, step) => {
      seen.set(step, embeddings(m));
      return { ndcg_cut_10: values[step] };
    },
    metricForBestModel: 'ndcg_cut.10',
    greaterIsBetter: false,
    loadBestAtEnd: true,
  });
  const result = await trainer.train(EXAMPLES);
  assert.equal(result.best?.step, 4);
  assert.equal(result.best?.metric, 'ndcg_cut_10');
  assert.deepEqual(embeddings(m), seen.get(4));
  trainer.dispose();
  m.dispose();
});

test('early stopping stops after `patience` evaluations without improvement (threshold as Hugging Face)', async () => {
  const m = model();
  const seen = new Map<number, Float32Array>();
  const steps: number[] = [];
  // 0.6 at step 8 ties the best (0.6 at 4): not an improvement, so the counter reaches 2 there.
  const trainer = new Trainer({
    ...scripted(m, { 2: 0.1, 4: 0.6, 6: 0.4, 8: 0.6, 10: 0.9 }, seen),
    metricForBestModel: 'score',
    earlyStoppingPatience: 2,
    loadBestAtEnd: true,
    onStep: (r) => {
      steps.push(r.step);
    },
  });
  const result = await trainer.train(EXAMPLES);
  assert.equal(result.step, 8);
  assert.equal(result.stoppedEarly, true);
  assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(result.losses.length, 8);
  assert.equal(result.best?.step, 4);
  assert.deepEqual(embeddings(m), seen.get(4));
  trainer.dispose();

  // With a threshold, a smaller gain updates the best but does not reset the patience.
  const t2 = new Trainer({
    ...scripted(m, { 2: 0.1, 4: 0.12, 6: 0.5, 8: 0.6, 10: 0.7 }, seen),
    metricForBestModel: 'score',
    earlyStoppingPatience: 1,
    earlyStoppingThreshold: 0.05,
  });
  const r2 = await t2.train(EXAMPLES);
  assert.equal(r2.step, 4);
  assert.equal(r2.best?.step, 4);
  t2.dispose();
  m.dispose();
});

test('EarlyStopping and isImprovement follow the Hugging Face rule', () => {
  assert.equal(isImprovement(0.5, undefined, true), true);
  assert.equal(isImprovement(0.5, 0.5, true), false);
  assert.equal(isImprovement(0.4, 0.5, false), true);
  assert.equal(isImprovement(0.56, 0.5, true, 0.05), true);
  assert.equal(isImprovement(0.54, 0.5, true, 0.05), false);
  assert.equal(isImprovement(Number.NaN, 0.5, true), false);
  assert.equal(isImprovement(0.1, Number.NaN, true), true);
  const s = new EarlyStopping(2);
  assert.equal(s.observe(0.3, undefined, true), false);
  assert.equal(s.observe(0.2, 0.3, true), false);
  assert.equal(s.counter, 1);
  assert.equal(s.observe(0.4, 0.3, true), false);
  assert.equal(s.counter, 0);
  assert.equal(s.observe(0.4, 0.4, true), false);
  assert.equal(s.observe(0.1, 0.4, true), true);
  assert.throws(() => new EarlyStopping(0), /earlyStoppingPatience: must be an integer >= 1, got 0/);
  assert.throws(() => new EarlyStopping(1, -1), /earlyStoppingThreshold: must be a finite number >= 0/);
});

test('a killed run resumes with its best and patience: same best, same stop, same weights', async () => {
  const scores = { 2: 0.1, 4: 0.6, 6: 0.5, 8: 0.7, 10: 0.4, 12: 0.3, 14: 0.9, 16: 0.2 };
  const options = (m: BiEncoder<ToyEncoder>, seen: Map<number, Float32Array>): TrainerOptions => ({
    ...scripted(m, scores, seen),
    steps: 16,
    checkpointEvery: 5,
    metricForBestModel: 'score',
    loadBestAtEnd: true,
    earlyStoppingPatience: 2,
  });
  const straightModel = model();
  const straightSeen = new Map<number, Float32Array>();
  const straight = new Trainer({ ...options(straightModel, straightSeen), outputDir: tmpDir() });
  const full = await straight.train(EXAMPLES);
  assert.equal(full.step, 12, '10 and 12 do not beat 8: patience 2 stops at 12');
  assert.equal(full.best?.step, 8);
  assert.deepEqual(embeddings(straightModel), straightSeen.get(8));

  const dir = tmpDir();
  const ckpt = path.join(dir, 'checkpoints');
  const killAt = (step: number) => (r: StepRecord) => {
    if (r.step === step) throw new Error('killed');
  };
  // Killed at 9: the checkpoint of step 5 names best 4; the best of step 8 belongs to the lost tail.
  const m1 = model();
  const t1 = new Trainer({ ...options(m1, new Map()), outputDir: dir, onStep: killAt(9) });
  await assert.rejects(t1.train(EXAMPLES), /killed/);
  assert.deepEqual(readdirSync(ckpt), ['best-step-00000004', 'best-step-00000008', 'step-00000005']);
  t1.dispose();

  // Resumed and killed at 11: the checkpoint of step 10 holds best 8 and one evaluation without improvement.
  const m2 = model(50);
  let afterResume: string[] = [];
  const t2 = new Trainer({
    ...options(m2, new Map()),
    outputDir: dir,
    onStep: (r) => {
      if (r.step === 6) afterResume = readdirSync(ckpt);
      killAt(11)(r);
    },
  });
  await assert.rejects(t2.train(EXAMPLES, { resume: true }), /killed/);
  assert.deepEqual(afterResume, ['best-step-00000004', 'step-00000005'], "the lost tail's best is dropped");
  const state = JSON.parse(
    readFileSync(path.join(ckpt, 'step-00000010', 'trainer_state.json'), 'utf8'),
  ) as TrainerState;
  assert.deepEqual(state.bestModel, {
    metric: 'score',
    greaterIsBetter: true,
    best: { step: 8, value: 0.7, metrics: { score: 0.7, other: 8 } },
    patienceCounter: 1,
  });
  t2.dispose();

  const m3 = model(77);
  const seen3 = new Map<number, Float32Array>();
  const t3 = new Trainer({ ...options(m3, seen3), outputDir: dir });
  const resumed = await t3.train(EXAMPLES, { resume: true });
  assert.equal(resumed.resumedFrom, 10);
  assert.equal(resumed.step, 12, 'the restored counter stops the resumed run where the straight one stopped');
  assert.equal(resumed.stoppedEarly, true);
  assert.deepEqual(resumed.best, full.best);
  assert.deepEqual(resumed.losses, full.losses.slice(10));
  assert.deepEqual(embeddings(m3), embeddings(straightModel));
  // best 4 stays while the checkpoint of step 5 names it.
  assert.deepEqual(readdirSync(ckpt), [
    'best-step-00000004',
    'best-step-00000008',
    'step-00000005',
    'step-00000010',
  ]);
  for (const t of [straight, t3]) t.dispose();
  for (const m of [straightModel, m1, m2, m3]) m.dispose();
});

test('best-model options and resumes are checked, with named errors', async () => {
  const m = model();
  const seen = new Map<number, Float32Array>();
  const base = scripted(m, { 2: 0.1, 4: 0.2 }, seen);
  const { evaluate, evaluateEvery, ...noEval } = base;
  void evaluateEvery;
  const arg = (fn: () => unknown, argument: string, message: RegExp) =>
    assert.throws(
      fn,
      (e: unknown) => e instanceof ArgumentError && e.argument === argument && message.test(e.message),
    );
  arg(
    () => new Trainer({ ...noEval, metricForBestModel: 'score' }),
    'metricForBestModel',
    /needs an evaluate callback/,
  );
  arg(() => new Trainer({ ...base, loadBestAtEnd: true }), 'loadBestAtEnd', /needs metricForBestModel/);
  arg(
    () => new Trainer({ ...base, earlyStoppingPatience: 2 }),
    'earlyStoppingPatience',
    /needs metricForBestModel/,
  );
  arg(
    () => new Trainer({ ...base, metricForBestModel: 'score', earlyStoppingThreshold: 0.1 }),
    'earlyStoppingThreshold',
    /needs earlyStoppingPatience/,
  );
  arg(
    () => new Trainer({ ...base, metricForBestModel: 'score', earlyStoppingPatience: 1.5 }),
    'earlyStoppingPatience',
    /must be an integer >= 1/,
  );
  arg(() => new Trainer({ ...base, metricForBestModel: '' }), 'metricForBestModel', /non-empty string/);
  await assert.rejects(
    new Trainer({ ...base, steps: 4, metricForBestModel: 'map' }).train(EXAMPLES),
    (e: unknown) =>
      e instanceof ArgumentError &&
      /metricForBestModel: map is not among the evaluation results \(score, other\)/.test(e.message),
  );
  assert.equal(evaluate !== undefined, true);

  const dir = tmpDir();
  const run = { ...base, steps: 4, outputDir: dir, checkpointEvery: 2 };
  const first = new Trainer({ ...run, metricForBestModel: 'score', loadBestAtEnd: true });
  await first.train(EXAMPLES);
  first.dispose();
  await assert.rejects(
    new Trainer({ ...run, metricForBestModel: 'other' }).train(EXAMPLES, { resume: true }),
    /resume: checkpoint .*step-00000004 tracks score \(greaterIsBetter true\) but this run has other/,
  );
  await assert.rejects(
    new Trainer({ ...run, metricForBestModel: 'score', greaterIsBetter: false }).train(EXAMPLES, {
      resume: true,
    }),
    /but this run has score \(greaterIsBetter false\)/,
  );
  const plainDir = tmpDir();
  const plain = new Trainer({ ...run, outputDir: plainDir });
  await plain.train(EXAMPLES);
  plain.dispose();
  await assert.rejects(
    new Trainer({ ...run, outputDir: plainDir, metricForBestModel: 'score' }).train(EXAMPLES, {
      resume: true,
    }),
    /resume: checkpoint .* was written by a run without metricForBestModel/,
  );
  m.dispose();
});
