import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { BertModel, parseBertConfig } from '../../src/models/architectures/bert.js';
import { pool } from '../../src/models/pooling.js';
import type { PoolingMode } from '../../src/models/pooling.js';
import { loadTiny, maxAbsDiff, tinyReference } from './bert-fixture.js';

before(async () => {
  await initBackend();
});

const TOL = 1e-4;

function inputs(ref: ReturnType<typeof tinyReference>) {
  return {
    inputIds: tf.tensor2d(ref.input_ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(ref.attention_mask, undefined, 'int32'),
    tokenTypeIds: tf.tensor2d(ref.token_type_ids, undefined, 'int32'),
  };
}

test('last hidden state matches the independent PyTorch reference', async () => {
  const ref = tinyReference();
  const bert = await loadTiny();
  const x = inputs(ref);
  const hidden = bert.forward(x);
  assert.deepEqual(hidden.shape, [10, 20, 32]);
  const rows = hidden.arraySync();
  for (let r = 0; r < 3; r++) {
    const diff = maxAbsDiff(rows[r], ref.hidden_first3[r]);
    assert.ok(diff <= TOL, `row ${r}: max abs diff ${diff}`);
  }
  tf.dispose([hidden, x.inputIds, x.attentionMask, x.tokenTypeIds]);
  bert.dispose();
});

for (const [file, key] of [
  ['model.safetensors', 'pooled'],
  ['model.f16.safetensors', 'pooled_f16'],
  ['model.bf16.safetensors', 'pooled_bf16'],
] as const) {
  test(`pooled embeddings match the reference (${file})`, async () => {
    const ref = tinyReference();
    const bert = await loadTiny(file);
    const x = inputs(ref);
    const hidden = bert.forward(x);
    for (const mode of ['cls', 'mean', 'max'] as PoolingMode[]) {
      const p = pool(hidden, x.attentionMask, mode);
      const diff = maxAbsDiff(p.arraySync(), ref[key][mode]);
      assert.ok(diff <= TOL, `${mode}: max abs diff ${diff}`);
      p.dispose();
    }
    tf.dispose([hidden, x.inputIds, x.attentionMask, x.tokenTypeIds]);
    bert.dispose();
  });
}

test('padding does not change a sequence embedding', async () => {
  const ref = tinyReference();
  const bert = await loadTiny();
  const n = ref.attention_mask[1].reduce((a, b) => a + b, 0);
  const ids = tf.tensor2d([ref.input_ids[1].slice(0, n)], undefined, 'int32');
  const mask = tf.onesLike(ids) as tf.Tensor2D;
  const types = tf.tensor2d([ref.token_type_ids[1].slice(0, n)], undefined, 'int32');
  const hidden = bert.forward({ inputIds: ids, attentionMask: mask, tokenTypeIds: types });
  const p = pool(hidden, mask, 'mean');
  assert.ok(maxAbsDiff(p.dataSync(), ref.mean_unpadded_row1) <= TOL);
  tf.dispose([ids, mask, types, hidden, p]);
  bert.dispose();
});

test('forward leaks no tensors, in inference and in training', async () => {
  const ref = tinyReference();
  const bert = await loadTiny();
  const x = inputs(ref);
  const before = tf.memory().numTensors;
  for (const training of [false, true]) {
    const h = bert.forward(x, { training, dropoutSeed: 3 });
    h.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([x.inputIds, x.attentionMask, x.tokenTypeIds]);
  bert.dispose();
});

test('dropout is active only in training, and deterministic for a dropout seed', async () => {
  const ref = tinyReference();
  const bert = await loadTiny();
  const x = inputs(ref);
  const evalA = bert.forward(x);
  const evalB = bert.forward(x, { training: false });
  const trainA = bert.forward(x, { training: true, dropoutSeed: 11 });
  const trainB = bert.forward(x, { training: true, dropoutSeed: 11 });
  const trainC = bert.forward(x, { training: true, dropoutSeed: 12 });
  assert.equal(maxAbsDiff(evalA.dataSync(), evalB.dataSync()), 0);
  assert.ok(maxAbsDiff(evalA.dataSync(), trainA.dataSync()) > 1e-2, 'training differs from eval');
  assert.equal(maxAbsDiff(trainA.dataSync(), trainB.dataSync()), 0, 'same seed, same masks');
  assert.ok(maxAbsDiff(trainA.dataSync(), trainC.dataSync()) > 1e-2, 'other seed, other masks');
  tf.dispose([evalA, evalB, trainA, trainB, trainC, x.inputIds, x.attentionMask, x.tokenTypeIds]);
  bert.dispose();
});

test('gradients reach every variable (embedding lookup included) without leaking', () => {
  const config = parseBertConfig({
    model_type: 'bert',
    vocab_size: 50,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 16,
    max_position_embeddings: 16,
  });
  const bert = BertModel.random(config, 5);
  const ids = tf.tensor2d(
    [
      [1, 7, 7, 2],
      [1, 9, 2, 0],
    ],
    undefined,
    'int32',
  );
  const mask = tf.tensor2d(
    [
      [1, 1, 1, 1],
      [1, 1, 1, 0],
    ],
    undefined,
    'int32',
  );
  const types = tf.zerosLike(ids) as tf.Tensor2D;
  const before = tf.memory().numTensors;
  const { value, grads } = tf.variableGrads(() => {
    const h = bert.forward(
      { inputIds: ids, attentionMask: mask, tokenTypeIds: types },
      { training: true, dropoutSeed: 1 },
    );
    return tf.sum(tf.square(pool(h, mask, 'mean'))) as tf.Scalar;
  }, [...bert.variables().values()]);
  const names = [...bert.variables().keys()];
  assert.equal(Object.keys(grads).length, names.length);
  const word = grads[bert.variables().get('embeddings.word_embeddings.weight')!.name];
  const wordRows = word.arraySync() as number[][];
  // Token 7 appears twice and token 3 never: duplicate ids accumulate, unused rows get zero.
  assert.ok(wordRows[7].some((g) => g !== 0));
  assert.ok(wordRows[3].every((g) => g === 0));
  tf.dispose([value, ...Object.values(grads)]);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([ids, mask, types]);
  bert.dispose();
});

test('random init follows HF: LayerNorm 1/0, zero biases, zero padding row, std = initializer_range', () => {
  const config = parseBertConfig({
    model_type: 'bert',
    vocab_size: 200,
    hidden_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 32,
    initializer_range: 0.05,
  });
  const a = BertModel.random(config, 1);
  const b = BertModel.random(config, 1);
  const w = a.hfTensors();
  assert.ok(w.get('embeddings.LayerNorm.weight')!.data.every((x) => x === 1));
  assert.ok(w.get('encoder.layer.0.attention.self.query.bias')!.data.every((x) => x === 0));
  const emb = w.get('embeddings.word_embeddings.weight')!.data;
  assert.ok(
    emb.subarray(0, 16).every((x) => x === 0),
    'padding row (pad_token_id 0) is zero',
  );
  const body = emb.subarray(16);
  const std = Math.sqrt(body.reduce((s, x) => s + x * x, 0) / body.length);
  assert.ok(Math.abs(std - 0.05) < 0.005, `std ${std}`);
  assert.deepEqual(
    b.hfTensors().get('encoder.layer.0.intermediate.dense.weight')!.data,
    w.get('encoder.layer.0.intermediate.dense.weight')!.data,
    'same seed, same weights',
  );
  assert.deepEqual(
    w.get('encoder.layer.0.intermediate.dense.weight')!.shape,
    [32, 16],
    'HF layout [out, in]',
  );
  a.dispose();
  b.dispose();
});

test('parseBertConfig: unsupported model_type names the supported ones', () => {
  assert.throws(
    () => parseBertConfig({ model_type: 'roberta' }, 'm/config.json'),
    (e: unknown) => {
      assert.ok(e instanceof InputFormatError);
      assert.equal(e.message, 'm/config.json: unsupported model_type "roberta"; supported: bert');
      return true;
    },
  );
  assert.throws(() => parseBertConfig({}, 'c.json'), /c\.json: missing "model_type" \(supported: bert\)/);
  assert.throws(
    () => parseBertConfig({ model_type: 'bert', hidden_size: 30, num_attention_heads: 4 }),
    /hidden_size 30 is not a multiple of num_attention_heads 4/,
  );
  assert.throws(
    () => parseBertConfig({ model_type: 'bert', hidden_size: '768' }),
    /"hidden_size" must be a positive integer, got "768"/,
  );
  assert.throws(
    () => parseBertConfig({ model_type: 'bert', hidden_act: 'swish' }),
    /unsupported hidden_act "swish"; supported: gelu/,
  );
  assert.throws(() => parseBertConfig([1]), /config must be a JSON object/);
});

test('fromWeights: missing tensors and config/weights mismatches name the tensor', async () => {
  const config = parseBertConfig({
    model_type: 'bert',
    vocab_size: 20,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 16,
    max_position_embeddings: 8,
  });
  const source = BertModel.random(config, 2);
  const weights = new Map<string, tf.Tensor>();
  for (const [name, t] of source.hfTensors()) weights.set(`bert.${name}`, tf.tensor(t.data, t.shape));
  // With the prefix and the full set, loading works and gives the same weights; buffers and pretraining
  // heads (position_ids, cls.*) are ignored.
  weights.set('bert.embeddings.position_ids', tf.tensor2d([[0, 1, 2, 3, 4, 5, 6, 7]]));
  weights.set('cls.predictions.bias', tf.zeros([20]));
  const copy = BertModel.fromWeights(config, weights, 'w.safetensors');
  assert.deepEqual(copy.hfTensors(), source.hfTensors());
  copy.dispose();

  const wider = parseBertConfig({ ...config, hidden_size: 12, num_attention_heads: 2 });
  assert.throws(
    () => BertModel.fromWeights(wider, weights, 'w.safetensors'),
    (e: unknown) => {
      assert.ok(e instanceof InputFormatError);
      assert.match(
        e.message,
        /^w\.safetensors: tensor embeddings\.word_embeddings\.weight has shape \[20, 8\] but config\.json implies \[20, 12\] \(hidden_size=12/,
      );
      assert.match(e.message, /config and weights do not match/);
      return true;
    },
  );
  const q = weights.get('bert.encoder.layer.0.attention.self.query.weight')!;
  weights.delete('bert.encoder.layer.0.attention.self.query.weight');
  assert.throws(
    () => BertModel.fromWeights(config, weights, 'w.safetensors'),
    /w\.safetensors: missing weight encoder\.layer\.0\.attention\.self\.query\.weight \(is this a BERT checkpoint\?\)/,
  );
  tf.dispose([q, ...weights.values()]);
  source.dispose();
});

test('forward rejects bad inputs with errors naming the argument', () => {
  const config = parseBertConfig({
    model_type: 'bert',
    vocab_size: 20,
    hidden_size: 8,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 16,
    max_position_embeddings: 4,
  });
  const bert = BertModel.random(config, 0);
  const ok = tf.tensor2d([[1, 2, 3]], undefined, 'int32');
  const mask = tf.onesLike(ok) as tf.Tensor2D;
  const badId = tf.tensor2d([[1, 25, 3]], undefined, 'int32');
  const long = tf.tensor2d([[1, 2, 3, 4, 5]], undefined, 'int32');
  const shortMask = tf.tensor2d([[1, 1]], undefined, 'int32');
  assert.throws(
    () =>
      bert.forward({
        inputIds: badId,
        attentionMask: mask,
        tokenTypeIds: tf.zerosLike(badId) as tf.Tensor2D,
      }),
    (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.equal(e.message, 'inputIds: id 25 at position 1 is outside [0, 20) (vocab_size)');
      return true;
    },
  );
  assert.throws(
    () =>
      bert.forward({
        inputIds: long,
        attentionMask: tf.onesLike(long) as tf.Tensor2D,
        tokenTypeIds: tf.zerosLike(long) as tf.Tensor2D,
      }),
    /inputIds: sequence length 5 exceeds max_position_embeddings 4/,
  );
  assert.throws(
    () =>
      bert.forward({ inputIds: ok, attentionMask: shortMask, tokenTypeIds: tf.zerosLike(ok) as tf.Tensor2D }),
    /attentionMask: shape \[1, 2\] differs from inputIds \[1, 3\]/,
  );
  bert.dispose();
  assert.throws(
    () => bert.forward({ inputIds: ok, attentionMask: mask, tokenTypeIds: mask }),
    /model: this BertModel has been disposed/,
  );
});
