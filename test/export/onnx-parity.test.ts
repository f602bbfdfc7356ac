import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { buildOnnxModel } from '../../src/export/onnx-model.js';
import { POOLING_MODES } from '../../src/models/pooling.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { EXPORT_FIXTURES, loadFixture, makeDense, maxAbs, ort, runOnnx, TEXTS } from './onnx-helpers.js';

/**
 * The exported graph through onnxruntime-node against our tfjs encoder, for every architecture fixture, every
 * pooling mode, with and without Dense modules (+ Normalize), on a padded batch of mixed lengths; sessions
 * are created with every graph optimization on (onnxruntime's fusions must accept the graph).
 */

before(async () => {
  await initBackend();
});

const TOLERANCE = 1e-4;

for (const arch of EXPORT_FIXTURES) {
  test(`${arch}: ONNX last_hidden_state and sentence_embedding equal the tfjs encoder for every pooling, Dense on/off`, async () => {
    const base = await loadFixture(arch);
    const hiddenSize = base.model.hiddenSize;
    const dense = [
      await makeDense(hiddenSize, 8, 'torch.nn.modules.activation.Tanh', true, 11),
      await makeDense(8, 6, 'torch.nn.modules.linear.Identity', false, 12),
    ];
    const batch = base.tokenizer.encodeBatch(TEXTS, { maxLength: base.maxSeqLength });
    assert.ok(batch.seqLen > 8, 'the batch is padded to a long text');
    const shape: [number, number] = [batch.batchSize, batch.seqLen];
    const reference = tf.tidy(() =>
      base.model.forward({
        inputIds: tf.tensor2d(batch.inputIds, shape, 'int32'),
        attentionMask: tf.tensor2d(batch.attentionMask, shape, 'int32'),
        tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, shape, 'int32'),
      }),
    );
    const referenceHidden = reference.dataSync();
    reference.dispose();
    for (const pooling of POOLING_MODES) {
      for (const withDense of [false, true]) {
        const encoder = new SentenceEncoder({
          model: base.model,
          tokenizer: base.tokenizer,
          pooling,
          normalize: withDense,
          maxSeqLength: base.maxSeqLength,
          dense: withDense ? dense : [],
        });
        const tensorsBefore = tf.memory().numTensors;
        const bytes = buildOnnxModel(encoder);
        assert.equal(tf.memory().numTensors, tensorsBefore, 'export leaks no tensors');
        const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
        const out = await runOnnx(session, encoder, TEXTS);
        await session.release();
        const label = `${arch} ${pooling}${withDense ? ' + Dense + Normalize' : ''}`;
        assert.deepEqual(out.dims, [TEXTS.length, encoder.dim], label);
        const hiddenDiff = maxAbs(out.hidden, referenceHidden);
        assert.ok(hiddenDiff < TOLERANCE, `${label}: last_hidden_state max abs diff ${hiddenDiff}`);
        const expected = encoder.embed(TEXTS);
        const sentenceDiff = maxAbs(out.sentence, expected.dataSync());
        expected.dispose();
        assert.ok(sentenceDiff < TOLERANCE, `${label}: sentence_embedding max abs diff ${sentenceDiff}`);
      }
    }
    base.dispose();
    for (const d of dense) d.dispose();
  });
}
