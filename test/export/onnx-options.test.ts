import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { EXPORTABLE_MODEL_TYPES } from '../../src/export/architectures/registry.js';
import { exportOnnx } from '../../src/export/export-onnx.js';
import { buildOnnxModel } from '../../src/export/onnx-model.js';
import { onnxType } from '../../src/export/onnx-schema.js';
import { SUPPORTED_MODEL_TYPES } from '../../src/models/architectures/registry.js';
import type { TransformerEncoder } from '../../src/models/architectures/encoder.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { loadFixture, makeDense, maxAbs, ort, runOnnx, TEXTS } from './onnx-helpers.js';

/** Opsets, the exporter table against the architecture registry, and typed errors for what cannot export. */

before(async () => {
  await initBackend();
});

test('every model_type of the architecture registry has an ONNX exporter', () => {
  assert.deepEqual([...EXPORTABLE_MODEL_TYPES], [...SUPPORTED_MODEL_TYPES]);
});

for (const arch of ['roberta', 'modernbert']) {
  test(`${arch}: opsets 14 (LayerNorm decomposed), 16, 18 (Reduce axes and Split as inputs), 22 give the same embeddings`, async () => {
    const base = await loadFixture(arch);
    const encoder = new SentenceEncoder({
      model: base.model,
      tokenizer: base.tokenizer,
      pooling: 'max',
      normalize: false,
      maxSeqLength: base.maxSeqLength,
    });
    const expected = encoder.embed(TEXTS);
    const reference = expected.dataSync();
    expected.dispose();
    for (const opset of [14, 16, 18, 22]) {
      const bytes = buildOnnxModel(encoder, { opset });
      const decoded = onnxType('ModelProto').decode(bytes) as unknown as {
        opset_import: { version: number }[];
        graph: { node: { op_type: string }[] };
      };
      assert.equal(Number(decoded.opset_import[0].version), opset);
      const hasLayerNorm = decoded.graph.node.some((n) => n.op_type === 'LayerNormalization');
      assert.equal(hasLayerNorm, opset >= 17, `opset ${opset}: LayerNormalization only from 17`);
      const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
      const out = await runOnnx(session, encoder, TEXTS);
      await session.release();
      const diff = maxAbs(out.sentence, reference);
      assert.ok(diff < 1e-4, `${arch} opset ${opset}: max abs diff ${diff}`);
    }
    base.dispose();
  });
}

test('bad options are ArgumentErrors naming the option', async () => {
  const encoder = await loadFixture('distilbert');
  const cases: [unknown, string][] = [
    [{ opset: 13 }, 'opset'],
    [{ opset: 23 }, 'opset'],
    [{ opset: 17.5 }, 'opset'],
    [{ quantize: 'q4' }, 'quantize'],
    [{ qauntize: 'q8' }, 'qauntize'],
  ];
  for (const [options, argument] of cases) {
    assert.throws(
      () => buildOnnxModel(encoder, options as never),
      (e: unknown) => e instanceof ArgumentError && e.message.includes(argument),
      JSON.stringify(options),
    );
  }
  await assert.rejects(exportOnnx(encoder, '', { quiet: true }), ArgumentError);
  const file = path.join(tmpDir('dr-export-'), 'a-file');
  writeFileSync(file, 'x');
  await assert.rejects(exportOnnx(encoder, file, { quiet: true }), ArgumentError);
  encoder.dispose();
});

/** A token encoder of another kind than the registry's classes. */
function stubEncoder(modelType: string): TransformerEncoder {
  return {
    config: {
      model_type: modelType,
      vocab_size: 1000,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 16,
      max_position_embeddings: 64,
      pad_token_id: 0,
    },
    hiddenSize: 8,
    maxSequenceLength: 64,
    forward: () => tf.zeros([1, 1, 8]) as tf.Tensor3D,
    variables: () => new Map(),
    hfTensors: () => new Map(),
    hfConfig: () => ({}),
    dispose: () => undefined,
  };
}

test('an unsupported model_type is an InputFormatError, a foreign encoder class an ArgumentError, an activation without ONNX op an ArgumentError', async () => {
  const fixture = await loadFixture('distilbert');
  const withModel = (model: TransformerEncoder, dense: SentenceEncoder['dense'] = []): SentenceEncoder =>
    new SentenceEncoder({
      model,
      tokenizer: fixture.tokenizer,
      pooling: 'mean',
      normalize: false,
      maxSeqLength: 32,
      dense: [...dense],
    });
  assert.throws(() => buildOnnxModel(withModel(stubEncoder('gpt2'))), InputFormatError);
  assert.throws(
    () => buildOnnxModel(withModel(stubEncoder('bert'))),
    (e: unknown) => e instanceof ArgumentError && /BertModel/.test(e.message),
  );
  assert.throws(
    () => buildOnnxModel(withModel(stubEncoder('modernbert'))),
    (e: unknown) => e instanceof ArgumentError && /ModernBertModel/.test(e.message),
  );
  const dense = await makeDense(fixture.model.hiddenSize, 4, 'torch.nn.modules.activation.Tanh', true, 3);
  // A Dense activation that a future module kind could carry, which the exporter has no op for.
  Object.defineProperty(dense, 'activation', { value: 'torch.nn.modules.activation.GELU' });
  const tensors = tf.memory().numTensors;
  assert.throws(
    () => buildOnnxModel(withModel(fixture.model, [dense])),
    (e: unknown) => e instanceof ArgumentError && /activation_function/.test(e.message),
  );
  assert.equal(tf.memory().numTensors, tensors, 'a failed export leaks no tensors');
  dense.dispose();
  fixture.dispose();
});
