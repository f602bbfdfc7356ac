import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../../src/errors.js';
import {
  ConstantScheduler,
  LinearScheduler,
  WarmupConstantScheduler,
  WarmupCosineScheduler,
  setOptimizerLearningRate,
} from '../../src/optim/schedulers.js';

const fixture = JSON.parse(
  readFileSync(path.join(import.meta.dirname, '../fixtures/training/schedulers.json'), 'utf8'),
) as {
  maxLr: number;
  warmupSteps: number;
  totalSteps: number;
  steps: number[];
  cosineTorchLambdaLR: number[];
  linearTorchLambdaLR: number[];
  cosineMinLr: { minLr: number; values: number[] };
};

const close = (a: number, b: number, tol = 1e-15) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('warmup-cosine pins: 0 at step 0, maxLr at warmupSteps, minLr at totalSteps, midpoint halfway', () => {
  const s = new WarmupCosineScheduler({ maxLr: 2e-5, minLr: 0, warmupSteps: 100, totalSteps: 1000 });
  assert.equal(s.lrAt(0), 0);
  assert.equal(s.lrAt(50), 1e-5);
  assert.equal(s.lrAt(100), 2e-5);
  close(s.lrAt(550), 1e-5); // halfway through the cosine: cos(pi/2) = 0
  close(s.lrAt(1000), 0);
  close(s.lrAt(5000), 0); // stays at the floor past the end
  const m = new WarmupCosineScheduler({ maxLr: 1, minLr: 0.2, warmupSteps: 0, totalSteps: 10 });
  assert.equal(m.lrAt(0), 1); // no warmup: first update at full rate
  close(m.lrAt(5), 0.6);
  close(m.lrAt(10), 0.2);
});

test('warmup-cosine and linear match torch LambdaLR with the Hugging Face lambdas', () => {
  const { maxLr, warmupSteps, totalSteps } = fixture;
  const cos = new WarmupCosineScheduler({ maxLr, warmupSteps, totalSteps });
  const lin = new LinearScheduler({ maxLr, warmupSteps, totalSteps });
  fixture.steps.forEach((step, i) => {
    close(cos.lrAt(step), fixture.cosineTorchLambdaLR[i], 1e-18);
    close(lin.lrAt(step), fixture.linearTorchLambdaLR[i], 1e-18);
  });
  const withMin = new WarmupCosineScheduler({
    maxLr,
    minLr: fixture.cosineMinLr.minLr,
    warmupSteps,
    totalSteps,
  });
  fixture.steps.forEach((step, i) => close(withMin.lrAt(step), fixture.cosineMinLr.values[i], 1e-18));
});

test('linear, constant and warmup-constant boundaries', () => {
  const lin = new LinearScheduler({ maxLr: 1e-4, minLr: 1e-5, warmupSteps: 10, totalSteps: 110 });
  assert.equal(lin.lrAt(0), 0);
  assert.equal(lin.lrAt(10), 1e-4);
  close(lin.lrAt(60), 5.5e-5);
  close(lin.lrAt(110), 1e-5);
  assert.equal(new ConstantScheduler({ lr: 3e-4 }).lrAt(0), 3e-4);
  assert.equal(new ConstantScheduler({ lr: 3e-4 }).lrAt(10_000), 3e-4);
  const wc = new WarmupConstantScheduler({ maxLr: 1e-3, warmupSteps: 4 });
  assert.deepEqual(
    [0, 1, 4, 99].map((t) => wc.lrAt(t)),
    [0, 2.5e-4, 1e-3, 1e-3],
  );
});

test('warmupSteps == totalSteps holds maxLr at the end instead of dividing by zero', () => {
  const s = new WarmupCosineScheduler({ maxLr: 1, warmupSteps: 10, totalSteps: 10 });
  assert.equal(s.lrAt(5), 0.5);
  assert.equal(s.lrAt(10), 1);
  assert.equal(s.lrAt(11), 0);
});

test('invalid options name the argument', () => {
  const cases: [() => unknown, string, RegExp][] = [
    [
      () => new WarmupCosineScheduler({ maxLr: 1e-5, minLr: 1e-4, warmupSteps: 0, totalSteps: 10 }),
      'minLr',
      /minLr: \(0\.0001\) must not exceed maxLr \(0\.00001\)/,
    ],
    [
      () => new WarmupCosineScheduler({ maxLr: 1, warmupSteps: 20, totalSteps: 10 }),
      'warmupSteps',
      /warmupSteps: \(20\) must not exceed totalSteps \(10\)/,
    ],
    [
      () => new WarmupCosineScheduler({ maxLr: -1, warmupSteps: 0, totalSteps: 10 }),
      'maxLr',
      /maxLr: must be a finite number >= 0, got -1/,
    ],
    [
      () => new LinearScheduler({ maxLr: 1, warmupSteps: -1, totalSteps: 10 }),
      'warmupSteps',
      /warmupSteps: must be an integer >= 0, got -1/,
    ],
    [
      () => new LinearScheduler({ maxLr: 1, totalSteps: 2.5 }),
      'totalSteps',
      /totalSteps: must be an integer >= 0, got 2.5/,
    ],
    [() => new ConstantScheduler({ lr: Number.NaN }), 'lr', /lr: must be a finite number >= 0, got NaN/],
    [
      () => new WarmupConstantScheduler({ maxLr: 1, warmupSteps: 1 }).lrAt(-1),
      'step',
      /step: must be an integer >= 0, got -1/,
    ],
  ];
  for (const [fn, argument, message] of cases) {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ArgumentError, String(e));
      assert.equal(e.argument, argument);
      assert.match(e.message, message);
      return true;
    });
  }
});

test('setOptimizerLearningRate drives a tfjs optimizer', () => {
  const x = tf.variable(tf.scalar(1));
  const opt = tf.train.sgd(0);
  const schedule = new WarmupConstantScheduler({ maxLr: 0.5, warmupSteps: 2 });
  const seen: number[] = [];
  for (let step = 0; step < 3; step++) {
    setOptimizerLearningRate(opt, schedule.lrAt(step));
    opt.minimize(() => x.mul(2).sum() as tf.Scalar); // d/dx = 2
    seen.push(x.dataSync()[0]);
  }
  // lr 0, 0.25, 0.5: x = 1, 1 - 0.5, 0.5 - 1
  assert.deepEqual(seen, [1, 0.5, -0.5]);
  const adam = tf.train.adam(0.1);
  setOptimizerLearningRate(adam, 0.01);
  assert.equal((adam as unknown as { learningRate: number }).learningRate, 0.01);
  assert.throws(() => setOptimizerLearningRate({}, 0.1), /optimizer: has no learningRate/);
  x.dispose();
  opt.dispose();
  adam.dispose();
});
