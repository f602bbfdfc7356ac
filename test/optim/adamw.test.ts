import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { AdamW, clipGradNorm, defaultNoDecay } from '../../src/optim/adamw.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

type Named = Record<string, number[] | number[][]>;
const fixture = JSON.parse(
  readFileSync(path.join(import.meta.dirname, '../fixtures/training/adamw.json'), 'utf8'),
) as {
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  maxNorm: number;
  initial: Named;
  steps: { lr: number; grads: Named; preClipNorm: number; clippedGrads: Named; params: Named }[];
};

before(async () => {
  await initBackend();
});

function makeVariables(prefix: string): Map<string, tf.Variable> {
  // Unique prefixes keep tfjs' global variable names distinct across tests in one process.
  const vars = new Map<string, tf.Variable>();
  for (const [name, value] of Object.entries(fixture.initial)) {
    vars.set(
      name,
      tf.tidy(() => tf.variable(tf.tensor(value), true, `${prefix}/${name}`)),
    );
  }
  return vars;
}

function maxAbsDiff(t: tf.Tensor, expected: number[] | number[][]): number {
  const got = t.dataSync();
  const want = (expected as number[]).flat();
  assert.equal(got.length, want.length);
  let m = 0;
  for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]));
  return m;
}

function runSteps(opt: AdamW, vars: Map<string, tf.Variable>, from: number, to: number): void {
  for (let t = from; t < to; t++) {
    const step = fixture.steps[t];
    const grads = new Map<tf.Variable, tf.Tensor>();
    for (const [name, v] of vars) grads.set(v, tf.tensor(step.grads[name]));
    const norm = clipGradNorm(grads, fixture.maxNorm);
    assert.ok(Math.abs(norm - step.preClipNorm) < 1e-5 * step.preClipNorm, `step ${t} norm ${norm}`);
    for (const [name, v] of vars) {
      assert.ok(maxAbsDiff(grads.get(v)!, step.clippedGrads[name]) < 1e-6, `clipped ${name} step ${t}`);
    }
    opt.applyGradients(grads, step.lr);
    for (const g of grads.values()) g.dispose();
    for (const [name, v] of vars) {
      const d = maxAbsDiff(v, step.params[name]);
      assert.ok(d < 2e-6, `step ${t} ${name}: max abs diff ${d}`);
    }
  }
}

test('AdamW + clipGradNorm match torch.optim.AdamW + clip_grad_norm_ over 5 steps', () => {
  const vars = makeVariables('parity');
  const opt = new AdamW({
    beta1: fixture.beta1,
    beta2: fixture.beta2,
    epsilon: fixture.epsilon,
    weightDecay: fixture.weightDecay,
  });
  const before = tf.memory().numTensors;
  runSteps(opt, vars, 0, 2);
  const afterTwo = tf.memory().numTensors;
  runSteps(opt, vars, 2, fixture.steps.length);
  assert.equal(tf.memory().numTensors, afterTwo, 'no tensors leak across steps');
  assert.equal(afterTwo - before, 2 * vars.size, 'only the two moments per variable are kept');
  assert.equal(opt.step, fixture.steps.length);
  opt.dispose();
  for (const v of vars.values()) v.dispose();
});

test('biases and LayerNorm weights get no weight decay by default', () => {
  assert.equal(defaultNoDecay('encoder.layer.0.attention.output.LayerNorm.weight'), true);
  assert.equal(defaultNoDecay('encoder.layer.0.attention.output.dense.bias'), true);
  assert.equal(defaultNoDecay('embeddings.word_embeddings.weight'), false);
  // With a zero gradient only the decay moves a weight: the bias must not move, the weight must shrink.
  const w = tf.variable(tf.ones([2]), true, 'decay/dense.weight');
  const b = tf.variable(tf.ones([2]), true, 'decay/dense.bias');
  const opt = new AdamW({ weightDecay: 0.5 });
  const grads = new Map<tf.Variable, tf.Tensor>([
    [w, tf.zeros([2])],
    [b, tf.zeros([2])],
  ]);
  opt.applyGradients(grads, 0.1);
  assert.deepEqual(
    [...w.dataSync()].map((x) => +x.toFixed(6)),
    [0.95, 0.95],
  );
  assert.deepEqual([...b.dataSync()], [1, 1]);
  for (const g of grads.values()) g.dispose();
  opt.dispose();
  w.dispose();
  b.dispose();
});

test('saved state resumes to the same trajectory as an uninterrupted run', async () => {
  const dir = tmpDir();
  const straight = makeVariables('straight');
  const optA = new AdamW({ weightDecay: fixture.weightDecay });
  runSteps(optA, straight, 0, fixture.steps.length);

  const resumed = makeVariables('resumed');
  const optB = new AdamW({ weightDecay: fixture.weightDecay });
  runSteps(optB, resumed, 0, 3);
  await optB.saveState(dir);
  optB.dispose();
  const optC = new AdamW({ weightDecay: fixture.weightDecay });
  await optC.loadState(dir);
  assert.equal(optC.step, 3);
  runSteps(optC, resumed, 3, fixture.steps.length);
  for (const [name, v] of straight) {
    assert.deepEqual([...v.dataSync()], [...resumed.get(name)!.dataSync()], name);
  }
  for (const v of [...straight.values(), ...resumed.values()]) v.dispose();
  optA.dispose();
  optC.dispose();
});

test('bad arguments are named', () => {
  assert.throws(() => new AdamW({ beta1: 1 }), /beta1: must be in \[0, 1\), got 1/);
  assert.throws(() => new AdamW({ weightDecay: -1 }), /weightDecay: must be >= 0, got -1/);
  const v = tf.variable(tf.zeros([2]), true, 'bad/w');
  const opt = new AdamW();
  const grads = new Map<tf.Variable, tf.Tensor>([[v, tf.zeros([3])]]);
  assert.throws(
    () => opt.applyGradients(grads, 0.1),
    (e: unknown) => e instanceof ArgumentError && /gradient of 'bad\/w' has shape \[3\]/.test(e.message),
  );
  assert.throws(() => opt.applyGradients(grads, Number.NaN), /lr: must be a finite number >= 0, got NaN/);
  assert.throws(() => clipGradNorm(grads, 0), /maxNorm: must be > 0, got 0/);
  const nan = new Map<tf.Variable, tf.Tensor>([[v, tf.tensor([Number.NaN, 1])]]);
  assert.throws(() => clipGradNorm(nan, 1), /grads: gradient norm is NaN; the loss diverged/);
  for (const g of [...grads.values(), ...nan.values()]) g.dispose();
  v.dispose();
});

test('on a BERT, decay applies to weight matrices and embeddings only', async () => {
  const dir = tmpDir();
  const encoder = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 1 });
  const opt = new AdamW();
  const decayed = encoder
    .trainableVariables()
    .filter((v) => opt.decays(v))
    .map((v) => v.name.replace(/^[^/]*\//, ''));
  const exempt = encoder
    .trainableVariables()
    .filter((v) => !opt.decays(v))
    .map((v) => v.name.replace(/^[^/]*\//, ''));
  assert.ok(decayed.includes('embeddings.word_embeddings.weight'), decayed.join(' '));
  assert.ok(decayed.includes('encoder.layer.0.attention.self.query.weight'));
  assert.ok(exempt.includes('embeddings.LayerNorm.weight'), exempt.join(' '));
  assert.ok(exempt.includes('encoder.layer.0.output.LayerNorm.bias'));
  assert.ok(exempt.includes('encoder.layer.0.attention.self.query.bias'));
  for (const name of decayed) assert.match(name, /\.weight$/);
  for (const name of decayed) assert.doesNotMatch(name, /LayerNorm/);
  for (const name of exempt) assert.match(name, /(\.bias|LayerNorm\.weight)$/);
  encoder.dispose();
});
