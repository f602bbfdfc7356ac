import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadModel } from '../../src/models/load.js';
import { ArgumentError } from '../../src/errors.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { e2eModelDir, e2eReference, matrixRows, maxAbsDiff } from './bert-fixture.js';

let encoder: SentenceEncoder;

before(async () => {
  await initBackend();
  encoder = await loadModel(e2eModelDir(), { quiet: true });
});

test('encode restores input order whatever the batch size (length sorting is invisible)', async () => {
  const ref = e2eReference();
  const texts = [...ref.texts, ...ref.texts.slice().reverse()];
  const expected = [...ref.pooled.mean_normalized, ...ref.pooled.mean_normalized.slice().reverse()];
  for (const batchSize of [1, 4, 32]) {
    const m = await encoder.encode(texts, { batchSize, quiet: true });
    const diff = maxAbsDiff(matrixRows(m), expected);
    assert.ok(diff <= 1e-4, `batchSize ${batchSize}: ${diff}`);
  }
});

test('encode of no texts is an empty [0, dim] matrix; bad options name the option', async () => {
  const m = await encoder.encode([], { quiet: true });
  assert.deepEqual([m.rows, m.cols, m.data.length], [0, 8, 0]);
  await assert.rejects(encoder.encode(['a'], { batchSize: 0 }), (e: unknown) => {
    assert.ok(e instanceof ArgumentError);
    assert.equal(e.message, 'batchSize: must be a positive integer, got 0');
    return true;
  });
  await assert.rejects(
    encoder.encode(['a'], { maxLength: 1000 }),
    /maxLength: must be an integer in \[3, 128\] \(max_position_embeddings\), got 1000/,
  );
  await assert.rejects(encoder.encode(['a', 3 as unknown as string]), /texts: element 1 is not a string/);
});

test('embed is differentiable and dropout-seeded (what the trainer relies on)', () => {
  const texts = ['dense retrieval', 'a second, longer text about vectors'];
  const vars = encoder.trainableVariables();
  assert.equal(vars.length, encoder.bert.variables().size);
  const before = tf.memory().numTensors;
  const run = (seed: number) =>
    tf.variableGrads(
      () =>
        tf.sum(
          tf.mul(
            encoder.embed(texts, { training: true, dropoutSeed: seed }),
            tf.range(0, 16).reshape([2, 8]),
          ),
        ) as tf.Scalar,
      vars,
    );
  const a = run(7);
  const b = run(7);
  const c = run(8);
  const word = vars.find((v) => v.name.endsWith('embeddings.word_embeddings.weight'))!;
  const gradNorm = tf.tidy(() => tf.sum(tf.abs(a.grads[word.name])).dataSync()[0]);
  assert.ok(gradNorm > 0, 'gradient reaches the embeddings');
  assert.equal(a.value.dataSync()[0], b.value.dataSync()[0], 'same dropout seed, same loss');
  assert.notEqual(a.value.dataSync()[0], c.value.dataSync()[0], 'other seed, other masks');
  for (const r of [a, b, c]) tf.dispose([r.value, ...Object.values(r.grads)]);
  assert.equal(tf.memory().numTensors, before);
});

test('embed without training equals encode', async () => {
  const ref = e2eReference();
  const t = encoder.embed(ref.texts.slice(0, 3));
  const m = await encoder.encode(ref.texts.slice(0, 3), { quiet: true });
  assert.ok(maxAbsDiff(t.dataSync(), m.data) <= 1e-6);
  t.dispose();
  assert.throws(() => encoder.embed([]), /texts: is empty/);
});

test('constructor checks its settings', () => {
  assert.throws(
    () =>
      new SentenceEncoder({
        bert: encoder.bert,
        tokenizer: encoder.tokenizer,
        pooling: 'mean',
        normalize: false,
        maxSeqLength: 999,
      }),
    /maxSeqLength: must be an integer in \[3, 128\] \(max_position_embeddings\), got 999/,
  );
  assert.throws(
    () =>
      new SentenceEncoder({
        bert: encoder.bert,
        tokenizer: encoder.tokenizer,
        pooling: 'first' as 'cls',
        normalize: false,
        maxSeqLength: 16,
      }),
    /pooling: must be one of cls, mean, max, mean_sqrt_len_tokens, weightedmean, lasttoken, got 'first'/,
  );
});
