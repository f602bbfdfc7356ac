import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { OnnxEngine, onnxRowsPerRun } from '../../src/engines/onnxruntime.js';
import { ArgumentError } from '../../src/errors.js';
import { loadModel } from '../../src/models/load.js';
import type { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { POOLING_MODES } from '../../src/models/pooling.js';
import type { Matrix } from '../../src/types.js';
import { e2eModelDir, e2eReference, matrixRows, maxAbsDiff } from '../models/bert-fixture.js';

// The tfjs engine is checked against PyTorch by the model tests; here every other engine must equal it.
let encoder: SentenceEncoder;
const texts = [
  'dense retrieval maps queries and passages to vectors',
  'BM25 is a sparse baseline',
  'x',
  'a much longer text about approximate nearest neighbour search, graphs, quantization and recall at ten',
];

const diff = (a: Matrix, b: Matrix): number => maxAbsDiff(a.data, b.data);

before(async () => {
  await initBackend();
  encoder = await loadModel(e2eModelDir(), { quiet: true });
});

after(() => encoder.dispose());

test('the onnx engine gives the tfjs vectors (and PyTorch reference) within 1e-4, batch after batch', async () => {
  const ref = e2eReference();
  for (const batchSize of [1, 3, 32]) {
    const onnx = await encoder.encode(ref.texts, { engine: 'onnx', batchSize, quiet: true });
    const tfjs = await encoder.encode(ref.texts, { engine: 'tfjs', batchSize, quiet: true });
    assert.ok(diff(onnx, tfjs) <= 1e-4, `batch ${batchSize}: ${diff(onnx, tfjs)}`);
    assert.ok(maxAbsDiff(matrixRows(onnx), ref.pooled.mean_normalized) <= 1e-4);
  }
});

test('every pooling mode, with and without normalisation, and a shorter maxLength agree across engines', async () => {
  const dir = e2eModelDir();
  for (const pooling of POOLING_MODES) {
    for (const normalize of [false, true]) {
      const e = await loadModel(dir, { quiet: true, pooling, normalize });
      try {
        for (const maxLength of [undefined, 5]) {
          const onnx = await e.encode(texts, { engine: 'onnx', maxLength, quiet: true });
          const tfjs = await e.encode(texts, { engine: 'tfjs', maxLength, quiet: true });
          assert.ok(diff(onnx, tfjs) <= 1e-4, `${pooling} ${normalize} ${maxLength}: ${diff(onnx, tfjs)}`);
        }
      } finally {
        e.dispose();
      }
    }
  }
});

test('a prompt left out of pooling (include_prompt: false) gives the tfjs vectors on onnx', async () => {
  const dir = e2eModelDir();
  const e = await loadModel(dir, { quiet: true });
  // The same weights with include_prompt false: a prompt's tokens count in attention but not in pooling.
  const { SentenceEncoder } = await import('../../src/models/sentence-encoder.js');
  const noPrompt = new SentenceEncoder({
    model: e.model,
    tokenizer: e.tokenizer,
    pooling: 'mean',
    normalize: true,
    maxSeqLength: e.maxSeqLength,
    prompts: { query: 'query: ' },
    includePrompt: false,
  });
  try {
    const onnx = await noPrompt.encode(texts, { engine: 'onnx', promptName: 'query', quiet: true });
    const tfjs = await noPrompt.encode(texts, { engine: 'tfjs', promptName: 'query', quiet: true });
    assert.ok(diff(onnx, tfjs) <= 1e-4, String(diff(onnx, tfjs)));
    // And it is not the include_prompt: true vector (the pooling mask mattered).
    const included = await e.encode(texts, { engine: 'onnx', prompt: 'query: ', quiet: true });
    assert.ok(diff(onnx, included) > 1e-3);
  } finally {
    noPrompt.dispose();
  }
});

test('the session is built once per weight version: changed weights rebuild it and follow tfjs', async () => {
  const e = await loadModel(e2eModelDir(), { quiet: true });
  const created: OnnxEngine[] = [];
  const create = OnnxEngine.create.bind(OnnxEngine);
  OnnxEngine.create = async (...args) => {
    const engine = await create(...args);
    created.push(engine);
    return engine;
  };
  try {
    const first = await e.encode(texts, { engine: 'onnx', quiet: true });
    await e.encode(texts, { engine: 'onnx', quiet: true });
    assert.equal(created.length, 1, 'unchanged weights reuse the session');
    // What an optimizer step does: assign new values to the variables.
    for (const v of e.trainableVariables()) {
      const next = tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.05, 'float32', 3)));
      v.assign(next);
      next.dispose();
    }
    const tensorsBefore = tf.memory().numTensors;
    const onnx = await e.encode(texts, { engine: 'onnx', quiet: true });
    assert.equal(created.length, 2, 'new weights, new session');
    const tfjs = await e.encode(texts, { engine: 'tfjs', quiet: true });
    assert.ok(diff(onnx, tfjs) <= 1e-4, String(diff(onnx, tfjs)));
    assert.ok(diff(onnx, first) > 1e-3, 'the vectors changed with the weights');
    assert.equal(tf.memory().numTensors, tensorsBefore, 'no tensor leak across onnx encodes');
  } finally {
    OnnxEngine.create = create;
    e.dispose();
  }
});

test('auto picks ONNX Runtime when installed; the env variable and the encoder setting choose too', async () => {
  const saved = process.env.DENSE_RETRIEVAL_ENGINE;
  try {
    delete process.env.DENSE_RETRIEVAL_ENGINE;
    assert.equal(await encoder.resolveEngine(), 'onnx');
    assert.equal(await encoder.resolveEngine('auto'), 'onnx');
    assert.equal(await encoder.resolveEngine('tfjs'), 'tfjs');
    const auto = await encoder.encode(texts, { quiet: true });
    assert.deepEqual(auto.data, (await encoder.encode(texts, { engine: 'onnx', quiet: true })).data);
    process.env.DENSE_RETRIEVAL_ENGINE = 'tfjs';
    assert.equal(await encoder.resolveEngine(), 'tfjs');
    encoder.engine = 'onnx';
    assert.equal(await encoder.resolveEngine(), 'onnx', 'the encoder setting overrides the variable');
    encoder.engine = undefined;
    process.env.DENSE_RETRIEVAL_ENGINE = 'gpu';
    await assert.rejects(encoder.encode(texts, { quiet: true }), (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.match(e.message, /^DENSE_RETRIEVAL_ENGINE: must be one of auto, onnx, tfjs, got 'gpu'/);
      return true;
    });
  } finally {
    if (saved === undefined) delete process.env.DENSE_RETRIEVAL_ENGINE;
    else process.env.DENSE_RETRIEVAL_ENGINE = saved;
  }
  await assert.rejects(
    encoder.encode(texts, { engine: 'ort' as 'onnx' }),
    /^ArgumentError: engine: must be one of auto, onnx, tfjs, got 'ort'/,
  );
});

test('bi-encoder towers pass the engine through', async () => {
  const { BiEncoder } = await import('../../src/models/bi-encoder.js');
  const model = BiEncoder.tied(encoder);
  const onnx = await model.encodePassages(texts, { engine: 'onnx', quiet: true });
  const tfjs = await model.encodeQueries(texts, { engine: 'tfjs', quiet: true });
  assert.ok(diff(onnx, tfjs) <= 1e-4);
  await assert.rejects(model.encodeQueries(texts, { engine: 'x' as 'tfjs' }), /engine: must be one of/);
});

test('the onnx engine splits a batch into runs of maxRunBytes, each cut to its longest row, with the same vectors', async () => {
  const batch = encoder.tokenizer.encodeBatch([...texts, ...texts.slice().reverse()], { maxLength: 64 });
  const withPool = { ...batch, poolMask: batch.attentionMask };
  // A pooling mask apart from the attention mask (include_prompt: false): the first token left out.
  const poolMask = batch.attentionMask.slice();
  for (let r = 0; r < batch.batchSize; r++) poolMask[r * batch.seqLen] = 0;
  const whole = await OnnxEngine.create(encoder, { maxRunBytes: 2 ** 30 });
  const perRow = 2 ** 30 / onnxRowsPerRun(encoder.model.config, batch.seqLen, 2 ** 30);
  const expected = await whole.embed(withPool);
  const expectedPooled = await whole.embed({ ...batch, poolMask });
  await whole.release();
  assert.ok(diff(toMatrix(expected), toMatrix(expectedPooled)) > 1e-4, 'the pooling mask matters');
  assert.equal(onnxRowsPerRun(encoder.model.config, batch.seqLen, Math.ceil(3 * perRow)), 3);
  for (const rows of [1, 3, 5]) {
    const engine = await OnnxEngine.create(encoder, { maxRunBytes: Math.ceil(rows * perRow) });
    try {
      const tensors = tf.memory().numTensors;
      const got = await engine.embed(withPool);
      assert.ok(maxAbsDiff(got, expected) <= 1e-5, `${rows} rows per run: ${maxAbsDiff(got, expected)}`);
      const pooled = await engine.embed({ ...batch, poolMask });
      assert.ok(maxAbsDiff(pooled, expectedPooled) <= 1e-5, `${rows} rows per run, pooled`);
      assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
    } finally {
      await engine.release();
    }
  }
  await assert.rejects(OnnxEngine.create(encoder, { maxRunBytes: 0 }), ArgumentError);
  // MiniLM-L6 at 256 tokens: 2 rows (the measured optimum); a 64-wide model at 64 tokens: one run of 192 rows.
  assert.equal(
    onnxRowsPerRun({ hidden_size: 384, intermediate_size: 1536, num_attention_heads: 12 }, 256),
    2,
  );
  assert.equal(onnxRowsPerRun({ hidden_size: 64, intermediate_size: 128, num_attention_heads: 2 }, 64), 192);
});

function toMatrix(data: Float32Array): Matrix {
  return { data, rows: 1, cols: data.length };
}
