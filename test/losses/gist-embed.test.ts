import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { CachedGISTEmbedLoss, GISTEmbedLoss } from '../../src/losses/gist-embed.js';
import type { GISTEmbedOptions, GuideEncoder } from '../../src/losses/gist-embed.js';
import { MatryoshkaLoss } from '../../src/losses/matryoshka.js';
import { caseBatch, checkParity, checkPlainEqualsCached, lossCases, toyBatch } from './loss-fixtures.js';
import type { LossCase } from './loss-fixtures.js';
import { ToyEncoder } from './toy-encoder.js';

before(async () => {
  await initBackend();
});

/** A guide that returns the fixture's guide embedding of each (fixture-named) text, counting its calls. */
class FixtureGuide implements GuideEncoder {
  calls = 0;
  private readonly rows = new Map<string, number[]>();
  constructor(c: LossCase) {
    const batch = caseBatch(c);
    batch.queries.forEach((t, i) => this.rows.set(t, c.gq![i]));
    [...batch.positives, ...(batch.negatives ?? []).flat()].forEach((t, i) => this.rows.set(t, c.gp![i]));
  }
  embed(texts: string[], options: { training?: boolean } = {}): tf.Tensor2D {
    assert.notEqual(options.training, true, 'the guide is frozen: never embedded in training mode');
    this.calls += 1;
    return tf.tensor2d(texts.map((t) => this.rows.get(t)!));
  }
}

function options(c: LossCase): GISTEmbedOptions {
  return {
    margin: c.margin as number,
    marginStrategy: c.marginStrategy as 'absolute' | 'relative',
    temperature: c.temperature as number,
    contrastAnchors: c.contrastAnchors as boolean,
    contrastPositives: c.contrastPositives as boolean,
  };
}

for (const c of lossCases('gist')) {
  test(`GISTEmbedLoss matches the PyTorch reference: ${c.name} (${c.masked as number} masked)`, () => {
    checkParity(new GISTEmbedLoss(new FixtureGuide(c), options(c)), c);
    // The guide embedding in chunks (the cached loss's way) changes nothing.
    const chunked = new FixtureGuide(c);
    checkParity(new CachedGISTEmbedLoss(chunked, { ...options(c), miniBatchSize: 2 }), {
      ...c,
    });
    assert.ok(chunked.calls >= 2);
  });
}

test('GISTEmbedLoss with a guide that masks nothing (margin -10) and no q-q/p-p terms is in-batch softmax at scale 1/T', () => {
  const c = lossCases('gist')[0];
  const loss = new GISTEmbedLoss(new FixtureGuide(c), {
    margin: -10,
    temperature: 0.05,
    contrastAnchors: false,
    contrastPositives: false,
  });
  const batch = caseBatch(c);
  const [got, want] = tf.tidy(() => {
    const q = tf.tensor2d(c.q);
    const p = tf.tensor2d(c.p);
    const ctx = loss.prepare(batch);
    const v = loss.lossFromEmbeddings(q, p, batch, ctx).dataSync()[0];
    ctx.dispose();
    const qn = tf.div(q, tf.norm(q, 2, 1, true));
    const pn = tf.div(p, tf.norm(p, 2, 1, true));
    const logits = tf.div(tf.matMul(qn, pn, false, true), 0.05);
    const ce = tf.neg(
      tf.mean(
        tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(tf.range(0, c.b, 1, 'int32'), c.b * (1 + c.k))), 1),
      ),
    );
    return [v, ce.dataSync()[0]];
  });
  assert.ok(Math.abs(got - want) < 1e-4, `${got} vs ${want}`);
});

test('GISTEmbedLoss plain and cached give the same value and gradients; the guide gets no gradients', () => {
  const enc = new ToyEncoder({ seed: 12 });
  const guide = new ToyEncoder({ seed: 40 });
  const batch = toyBatch(6, 1, 2);
  const opts = { margin: 0.05, temperature: 0.05 };
  checkPlainEqualsCached(
    new GISTEmbedLoss(guide, opts),
    new CachedGISTEmbedLoss(guide, { ...opts, miniBatchSize: 4 }),
    enc,
    batch,
    4,
  );
  checkPlainEqualsCached(
    new MatryoshkaLoss(new GISTEmbedLoss(guide, opts), { dims: [8, 4] }),
    new MatryoshkaLoss(new CachedGISTEmbedLoss(guide, { ...opts, miniBatchSize: 4 }), { dims: [8, 4] }),
    enc,
    batch,
    4,
  );
  const { grads } = new GISTEmbedLoss(guide, opts).computeGradients(enc, enc, batch);
  assert.ok(guide.vars.every((v) => !grads.has(v)));
  assert.equal(grads.size, enc.vars.length);
  tf.dispose([...grads.values()]);
  enc.dispose();
  guide.dispose();
});

test('GISTEmbedLoss validates its options and needs a cosine model', () => {
  const guide = new ToyEncoder();
  const bad = (o: unknown, arg: string) =>
    assert.throws(
      () => new GISTEmbedLoss(guide, o as GISTEmbedOptions),
      (e: unknown) => e instanceof ArgumentError && e.argument === arg,
    );
  bad({ temperature: 0 }, 'temperature');
  bad({ margin: Number.NaN }, 'margin');
  bad({ marginStrategy: 'ratio' }, 'marginStrategy');
  bad({ miniBatchSize: 0 }, 'miniBatchSize');
  assert.throws(
    () => new GISTEmbedLoss({} as GuideEncoder),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'guide',
  );
  assert.throws(
    () => new CachedGISTEmbedLoss(guide, {} as { miniBatchSize: number }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'miniBatchSize',
  );
  const loss = new GISTEmbedLoss(guide);
  assert.equal(loss.forSimilarity('cosine'), loss);
  assert.throws(() => loss.forSimilarity('dot'), /GISTEmbedLoss trains cosine similarity/);
  assert.deepEqual(loss.toJSON(), {
    kind: 'gist-embed',
    margin: 0,
    marginStrategy: 'absolute',
    temperature: 0.01,
    contrastAnchors: true,
    contrastPositives: true,
  });
  guide.dispose();
});
