import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { relativeBuckets } from '../../src/export/architectures/bert-family.js';
import { Blocks } from '../../src/export/blocks.js';
import { GraphBuilder } from '../../src/export/graph-builder.js';
import { buildOnnxModel } from '../../src/export/onnx-model.js';
import { DataType, onnxType } from '../../src/export/onnx-schema.js';
import { serializeModel } from '../../src/export/serialize.js';
import { relativePositionBucket } from '../../src/models/architectures/bert-family.js';
import { tmpDir } from '../helpers/tmp.js';
import { loadFixture, ort } from './onnx-helpers.js';

/**
 * Graph pieces computed in ONNX from the sequence length, against the tfjs model's own functions (which the
 * architecture parity tests tie to torch): MPNet's relative buckets over every query/key pair of a 600-token
 * sequence, past MPNet's 514 positions, so that no bucket edge rounds differently in float32.
 */

test('MPNet relative-position buckets computed in the graph equal relativePositionBucket for every pair up to 600 tokens', async () => {
  for (const buckets of [32, 16]) {
    const g = new GraphBuilder('buckets');
    const b = new Blocks(g, 17);
    const ids = g.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
    g.output(relativeBuckets(b, buckets, b.dim(ids, 1)), 'buckets', DataType.INT64, [
      'sequence_length',
      'sequence_length',
    ]);
    const session = await ort.InferenceSession.create(
      serializeModel(g.build(), { opset: 17, producerVersion: 'test' })!.model,
    );
    const seq = 600;
    const out = await session.run({ input_ids: new ort.Tensor('int64', new BigInt64Array(seq), [1, seq]) });
    await session.release();
    const got = out.buckets.data as BigInt64Array;
    let mismatches = 0;
    for (let q = 0; q < seq; q++) {
      for (let k = 0; k < seq; k++) {
        if (Number(got[q * seq + k]) !== relativePositionBucket(k - q, buckets)) mismatches++;
      }
    }
    assert.equal(mismatches, 0, `${buckets} buckets`);
    // Every bucket is used (both directions, both saturated ends) but `half + 0`: distance 0 has no direction.
    assert.equal(new Set(Array.from(got, Number)).size, buckets - 1);
  }
});

test("onnxruntime's optimizer folds the exported erf GELU into one op (the Div-by-sqrt(2) pattern it matches)", async () => {
  await initBackend();
  const encoder = await loadFixture('roberta');
  const optimized = path.join(tmpDir('dr-onnx-opt-'), 'optimized.onnx');
  await ort.InferenceSession.create(buildOnnxModel(encoder), {
    graphOptimizationLevel: 'all',
    optimizedModelFilePath: optimized,
    logSeverityLevel: 3,
  });
  const ops = (
    onnxType('ModelProto').decode(readFileSync(optimized)) as unknown as {
      graph: { node: { op_type: string }[] };
    }
  ).graph.node.map((n) => n.op_type);
  assert.equal(encoder.model.config.hidden_act, 'gelu');
  assert.ok(!ops.includes('Erf'), `Erf left in ${ops.join(' ')}`);
  assert.ok(ops.includes('BiasGelu') || ops.includes('Gelu'));
  encoder.dispose();
});
