import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { ToyEncoder } from './toy-encoder.js';

interface Case {
  name: string;
  batch: number;
  hardNegatives: number;
  scale: number;
  similarity: 'dot' | 'cosine';
  symmetric: boolean;
  passageIds: string[] | null;
  q: number[][];
  p: number[][];
  loss: number;
  gradQ: number[][];
  gradP: number[][];
}
const fixture = JSON.parse(
  readFileSync(path.join(import.meta.dirname, '../fixtures/training/in_batch_loss.json'), 'utf8'),
) as { cases: Case[] };

before(async () => {
  await initBackend();
});

function maxAbsDiff(t: tf.Tensor, want: number[][]): number {
  const got = t.dataSync();
  const flat = want.flat();
  assert.equal(got.length, flat.length);
  return Math.max(...flat.map((w, i) => Math.abs(w - got[i])));
}

for (const c of fixture.cases) {
  test(`loss and gradients match the PyTorch reference: ${c.name}`, () => {
    const loss = new InBatchNegativesLoss({
      scale: c.scale,
      similarity: c.similarity,
      symmetric: c.symmetric,
    });
    const q = tf.tensor2d(c.q);
    const p = tf.tensor2d(c.p);
    const before = tf.memory().numTensors;
    const passageIds = c.passageIds ?? undefined;
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
      loss.compute(a as tf.Tensor2D, b as tf.Tensor2D, { passageIds }),
    )([q, p]);
    const v = value.dataSync()[0];
    assert.ok(Math.abs(v - c.loss) <= 1e-5 * Math.max(1, Math.abs(c.loss)), `loss ${v} vs ${c.loss}`);
    assert.ok(maxAbsDiff(grads[0], c.gradQ) <= 1e-5, `dL/dq differs by ${maxAbsDiff(grads[0], c.gradQ)}`);
    assert.ok(maxAbsDiff(grads[1], c.gradP) <= 1e-5, `dL/dp differs by ${maxAbsDiff(grads[1], c.gradP)}`);
    tf.dispose([value, ...grads]);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak');
    tf.dispose([q, p]);
  });
}

test('a duplicate passage is masked, not punished: same loss as if the duplicate column were absent', () => {
  // Query 0's hard negative (column 2) is query 1's positive 'b': a false negative for query 1 only.
  const q = tf.tensor2d([
    [1, 0],
    [0, 1],
  ]);
  const p = tf.tensor2d([
    [1, 0.1],
    [0.2, 1],
    [0.2, 1],
    [0.5, 0.5],
  ]);
  const loss = new InBatchNegativesLoss({ similarity: 'dot' });
  const masked = loss.compute(q, p, { passageIds: ['a', 'b', 'b', 'c'] }).dataSync()[0];
  const unmasked = loss.compute(q, p).dataSync()[0];
  const logits = [
    [1, 0.2, 0.2, 0.5],
    [0.1, 1, 1, 0.5],
  ];
  const ce = (row: number[], target: number) =>
    -(row[target] - Math.log(row.reduce((s, x) => s + Math.exp(x), 0)));
  const expected = (ce(logits[0], 0) + ce([0.1, 1, 0.5], 1)) / 2;
  assert.ok(Math.abs(masked - expected) < 1e-6, `${masked} vs ${expected}`);
  assert.ok(unmasked > masked + 0.1, 'without ids the duplicate counts as a negative');
  tf.dispose([q, p]);
});

test('scale defaults to 1 for dot and 20 for cosine', () => {
  assert.equal(new InBatchNegativesLoss().scale, 1);
  assert.equal(new InBatchNegativesLoss({ similarity: 'cosine' }).scale, 20);
  assert.equal(new InBatchNegativesLoss({ similarity: 'cosine', scale: 5 }).scale, 5);
});

test('bad inputs are typed errors naming the argument', () => {
  const loss = new InBatchNegativesLoss();
  const q1 = tf.tensor2d([[1, 2]]);
  const p1 = tf.tensor2d([[1, 2]]);
  const p3 = tf.tensor2d([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  const q2 = tf.tensor2d([
    [1, 2],
    [3, 4],
  ]);
  const p2x3 = tf.tensor2d([
    [1, 2, 3],
    [1, 2, 3],
  ]);
  const expectArg = (fn: () => unknown, argument: string, message: RegExp) =>
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ArgumentError, String(e));
      assert.equal(e.argument, argument);
      assert.match(e.message, message);
      return true;
    });
  expectArg(
    () => loss.compute(q1, p1),
    'batch',
    /batch: a batch of 1 query without hard negatives has no negatives at all/,
  );
  expectArg(() => loss.compute(q2, p3), 'embeddings', /3 passages are not B\(1 \+ k\) for B = 2 queries/);
  expectArg(() => loss.compute(q2, p2x3), 'embeddings', /query dim 2 differs from passage dim 3/);
  expectArg(() => loss.compute(q2, q2, { passageIds: ['a'] }), 'passageIds', /has 1 ids for 2 passages/);
  expectArg(() => new InBatchNegativesLoss({ scale: 0 }), 'scale', /must be > 0, got 0/);
  expectArg(
    () => new InBatchNegativesLoss({ similarity: 'l2' as never }),
    'similarity',
    /must be 'dot' or 'cosine', got 'l2'/,
  );
  const enc = new ToyEncoder();
  expectArg(
    () => loss.computeGradients(enc, enc, { queries: ['a'], positives: ['b'] }),
    'batch',
    /a batch of 1 query without hard negatives has no negatives at all; use a batch size >= 2 or hard negatives/,
  );
  expectArg(
    () => loss.computeGradients(enc, enc, { queries: ['a', 'b'], positives: ['c'] }),
    'batch',
    /has 2 queries but 1 positives/,
  );
  expectArg(
    () =>
      loss.computeGradients(enc, enc, { queries: ['a', 'b'], positives: ['c', 'd'], negatives: [['e'], []] }),
    'batch',
    /query 1 has 0 hard negatives but query 0 has 1/,
  );
  // One query with a hard negative is a valid batch.
  const { loss: v, grads } = loss.computeGradients(enc, enc, {
    queries: ['a'],
    positives: ['b'],
    negatives: [['c']],
  });
  assert.ok(Number.isFinite(v) && v > 0);
  tf.dispose([...grads.values(), q1, p1, p3, q2, p2x3]);
  enc.dispose();
});

test('computeGradients returns a gradient for every variable and leaks nothing', () => {
  const enc = new ToyEncoder({ seed: 7 });
  const loss = new InBatchNegativesLoss({ similarity: 'cosine' });
  const batch = {
    queries: ['red apple', 'blue sky', 'green tree'],
    positives: ['apple red', 'sky blue', 'tree'],
  };
  const first = loss.computeGradients(enc, enc, batch);
  tf.dispose([...first.grads.values()]);
  const before = tf.memory().numTensors;
  const { loss: value, grads } = loss.computeGradients(enc, enc, batch);
  assert.equal(value, first.loss, 'deterministic');
  assert.deepEqual(
    [...grads.keys()].map((v) => v.name),
    enc.vars.map((v) => v.name),
  );
  for (const g of grads.values()) {
    const m = tf.tidy(() => g.abs().max());
    assert.ok(m.dataSync()[0] > 0);
    m.dispose();
  }
  tf.dispose([...grads.values()]);
  assert.equal(tf.memory().numTensors, before);
  enc.dispose();
});

test('issue 12: a passage with the same text is masked even under a different id', () => {
  const q = tf.tensor2d([
    [1, 0],
    [0, 1],
  ]);
  const p = tf.tensor2d([
    [1, 0.1],
    [0.2, 1],
    [0.2, 1],
    [0.5, 0.5],
  ]);
  const loss = new InBatchNegativesLoss({ similarity: 'dot' });
  const byId = loss.compute(q, p, { passageIds: ['a', 'b', 'b', 'c'] }).dataSync()[0];
  const byText = loss
    .compute(q, p, { passageIds: ['a', 'b', 'b-copy', 'c'], passageTexts: ['A', 'B', 'B', 'C'] })
    .dataSync()[0];
  const neither = loss
    .compute(q, p, { passageIds: ['a', 'b', 'b-copy', 'c'], passageTexts: ['A', 'B', 'B2', 'C'] })
    .dataSync()[0];
  assert.equal(byText, byId);
  assert.ok(neither > byText + 0.1, 'different id and text: a real negative');

  // Through computeGradients: the trainer passes ids, the loss adds the texts.
  const enc = new ToyEncoder({ seed: 3 });
  const batch = {
    queries: ['red apple', 'blue sky'],
    positives: ['apple', 'sky'],
    negatives: [['sky'], ['tree']],
  };
  const ids = loss.computeGradients(enc, enc, { ...batch, passageIds: ['d1', 'd2', 'd2', 'd3'] });
  const texts = loss.computeGradients(enc, enc, { ...batch, passageIds: ['d1', 'd2', 'd9', 'd3'] });
  assert.equal(texts.loss, ids.loss);
  tf.dispose([...ids.grads.values(), ...texts.grads.values(), q, p]);
  enc.dispose();
});
