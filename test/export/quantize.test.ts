import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { buildOnnxModel } from '../../src/export/onnx-model.js';
import { onnxType } from '../../src/export/onnx-schema.js';
import { quantizeSymmetric } from '../../src/export/quantize.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { EXPORT_FIXTURES, loadFixture, maxAbs, ort, runOnnx, TEXTS } from './onnx-helpers.js';

/**
 * q8 (dynamic int8) exports: standard ops only, int8 weights, and the documented accuracy cost (docs/deploy.md):
 * on the fixtures, normalized sentence embeddings within 0.05 (max abs) of fp32 and cosine >= 0.995.
 */

before(async () => {
  await initBackend();
});

test('quantizeSymmetric: codes in [-127, 127], one scale per column or row, reconstruction within half a step', () => {
  const data = Float32Array.from([0.5, -2, 0, 1, 0.25, 4, -1, 0.001, 0]);
  for (const byColumn of [true, false]) {
    const { q, scales } = quantizeSymmetric(data, 3, 3, byColumn);
    assert.equal(scales.length, 3);
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        const s = scales[byColumn ? c : r];
        const code = q[r * 3 + c];
        assert.ok(code >= -127 && code <= 127);
        assert.ok(Math.abs(code * s - data[r * 3 + c]) <= s / 2 + 1e-7, `r${r} c${c}`);
      }
    }
    // The largest magnitude of each group maps to +-127.
    assert.equal(Math.max(...Array.from(q, Math.abs)), 127);
  }
  // An all-zero group gets scale 1 (no division by zero) and zero codes.
  const zero = quantizeSymmetric(new Float32Array(4), 2, 2, true);
  assert.deepEqual(Array.from(zero.scales), [1, 1]);
  assert.deepEqual(Array.from(zero.q), [0, 0, 0, 0]);
});

interface DecodedModel {
  graph: {
    node: { op_type: string; domain?: string; input: string[] }[];
    initializer: { name: string; data_type: number; dims: number[] }[];
  };
}

test('a q8 graph holds its MatMul weights and embedding tables as int8, in standard ONNX ops only', async () => {
  const encoder = await loadFixture('roberta');
  const fp32 = onnxType('ModelProto').decode(buildOnnxModel(encoder)) as unknown as DecodedModel;
  const q8 = onnxType('ModelProto').decode(
    buildOnnxModel(encoder, { quantize: 'q8' }),
  ) as unknown as DecodedModel;
  const ops = new Set(q8.graph.node.map((n) => n.op_type));
  for (const op of ['DynamicQuantizeLinear', 'MatMulInteger']) assert.ok(ops.has(op), op);
  assert.ok(
    q8.graph.node.every((n) => (n.domain ?? '') === ''),
    'default domain only',
  );
  const layers = encoder.model.config.num_hidden_layers;
  const floatMatMuls = fp32.graph.node.filter((n) => n.op_type === 'MatMul').length;
  // Every weight MatMul is quantized; the two attention products of each layer stay float.
  assert.equal(q8.graph.node.filter((n) => n.op_type === 'MatMulInteger').length, floatMatMuls - 2 * layers);
  assert.equal(q8.graph.node.filter((n) => n.op_type === 'MatMul').length, 2 * layers);
  const int8 = q8.graph.initializer.filter((t) => t.data_type === 3 && t.dims.length === 2);
  assert.ok(int8.some((t) => t.name === 'embeddings.word_embeddings.weight_quantized'));
  assert.ok(
    !q8.graph.initializer.some((t) => t.name === 'embeddings.word_embeddings.weight'),
    'float table dropped',
  );
  // One DynamicQuantizeLinear per distinct input: query, key and value share one.
  assert.equal(q8.graph.node.filter((n) => n.op_type === 'DynamicQuantizeLinear').length, 4 * layers);
  encoder.dispose();
});

for (const arch of EXPORT_FIXTURES) {
  test(`${arch}: q8 sentence embeddings within the documented tolerance of fp32`, async () => {
    const base = await loadFixture(arch);
    const encoder = new SentenceEncoder({
      model: base.model,
      tokenizer: base.tokenizer,
      pooling: 'mean',
      normalize: true,
      maxSeqLength: base.maxSeqLength,
    });
    const run = async (quantize: boolean): Promise<Float32Array> => {
      const session = await ort.InferenceSession.create(
        buildOnnxModel(encoder, quantize ? { quantize: 'q8' } : {}),
        { graphOptimizationLevel: 'all' },
      );
      const out = await runOnnx(session, encoder, TEXTS);
      await session.release();
      return out.sentence;
    };
    const fp32 = await run(false);
    const q8 = await run(true);
    const diff = maxAbs(fp32, q8);
    assert.ok(diff > 0, 'q8 is not the fp32 model');
    assert.ok(diff < 0.05, `max abs diff ${diff}`);
    const dim = encoder.dim;
    for (let r = 0; r < TEXTS.length; r++) {
      let cos = 0;
      for (let j = 0; j < dim; j++) cos += fp32[r * dim + j] * q8[r * dim + j];
      assert.ok(cos >= 0.995, `${arch} text ${r}: cosine ${cos}`);
    }
    base.dispose();
  });
}
