import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { CachedInBatchNegativesLoss } from '../../src/losses/cached-in-batch-negatives.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { parseBertConfig } from '../../src/models/architectures/bert.js';
import {
  architectureFor,
  parseEncoderConfig,
  randomEncoder,
} from '../../src/models/architectures/registry.js';
import {
  MEMORY_MARGIN,
  WASM_HEAP_LIMIT_BYTES,
  bertParameterCount,
  checkTrainingMemory,
  estimateTrainingBytes,
  guardTrainingStep,
} from '../../src/train/memory.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

const miniLmL6 = parseBertConfig({
  model_type: 'bert',
  hidden_size: 384,
  num_hidden_layers: 6,
  num_attention_heads: 12,
  intermediate_size: 1536,
});
const bertBase = parseBertConfig({ model_type: 'bert' });

test('parameter count matches the real models (all-MiniLM-L6-v2 and bert-base-uncased minus their poolers)', () => {
  assert.equal(bertParameterCount(miniLmL6), 22_565_376);
  assert.equal(bertParameterCount(bertBase), 108_891_648);
});

test('the estimate is within 10% of measured peaks (MiniLM-L6 shape, plain loss, wasm, see docs/training.md)', () => {
  // Peak live wasm-heap bytes measured with the fused layer (benchmark in docs/training.md).
  const measured = [
    { batch: 2, seq: 128, bytes: 432.7e6 },
    { batch: 8, seq: 128, bytes: 859.7e6 },
    { batch: 16, seq: 128, bytes: 1496.2e6 },
    { batch: 4, seq: 64, bytes: 421.0e6 },
  ];
  for (const { batch, seq, bytes } of measured) {
    const calls = [
      { sequences: batch, seqLen: seq },
      { sequences: batch, seqLen: seq },
    ];
    const est = estimateTrainingBytes(miniLmL6, calls);
    // The AdamW update's fixed ~0.84 GB dominates small batches; compare the backward phase there too.
    assert.ok(
      est >= bytes * 0.9 && est <= Math.max(bytes, 836.9e6) * 1.1,
      `batch ${batch} seq ${seq}: ${est} vs ${bytes}`,
    );
  }
});

test('the estimate grows linearly in the batch and faster than linearly in the sequence length', () => {
  const at = (batch: number, seq: number) =>
    estimateTrainingBytes(bertBase, [
      { sequences: batch, seqLen: seq },
      { sequences: batch, seqLen: seq },
    ]);
  const d1 = at(64, 128) - at(32, 128);
  const d2 = at(96, 128) - at(64, 128);
  assert.ok(Math.abs(d1 - d2) < 1e-6 * d1, 'linear in the batch');
  assert.ok(at(32, 256) - at(16, 256) > 2 * (at(32, 128) - at(16, 128)), 'attention grows with seq^2');
});

test('a step that fits passes; one that does not is an ArgumentError naming batch size, sequence length and a mini-batch that fits', () => {
  checkTrainingMemory(miniLmL6, { queries: 16, passages: 16, queryLen: 128, passageLen: 128 });
  assert.throws(
    () => checkTrainingMemory(bertBase, { queries: 128, passages: 256, queryLen: 64, passageLen: 256 }),
    (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.equal(e.argument, 'batchSize');
      assert.match(e.message, /batch size 128 \(256 passages\) at sequence length 256/);
      assert.match(e.message, /GiB of wasm heap, more than the backend's 4\.0 GiB limit/);
      const n = Number(/miniBatchSize: (\d+)/.exec(e.message)?.[1]);
      assert.match(e.message, new RegExp(`--cache-mini-batch ${n}\\b`));
      // The suggested mini-batch fits, twice it would not.
      const one = (k: number) =>
        MEMORY_MARGIN * estimateTrainingBytes(bertBase, [{ sequences: k, seqLen: 256 }]);
      assert.ok(n >= 1 && one(n) <= WASM_HEAP_LIMIT_BYTES, `mini-batch ${n} fits`);
      assert.ok(one(2 * n) > WASM_HEAP_LIMIT_BYTES, `mini-batch ${2 * n} would not`);
      return true;
    },
  );
});

test('a model too large for even one sequence says so', () => {
  const huge = parseBertConfig({
    model_type: 'bert',
    hidden_size: 4096,
    intermediate_size: 16384,
    num_hidden_layers: 24,
    num_attention_heads: 32,
  });
  assert.throws(
    () => checkTrainingMemory(huge, { queries: 2, passages: 2, queryLen: 128, passageLen: 128 }),
    /even one sequence of 128 tokens does not fit/,
  );
});

/** An encoder that looks like a SentenceEncoder to the guard (fake config, whitespace tokens) and counts embeds. */
function fakeSentenceEncoder(config: ReturnType<typeof parseBertConfig>, maxSeqLength: number) {
  const v = tf.variable(tf.ones([2, 4]), true);
  return {
    bert: { config },
    maxSeqLength,
    tokenizer: {
      tokenLength: (t: string, o: { maxLength?: number } = {}) =>
        Math.min(t.split(' ').length + 2, o.maxLength ?? Infinity),
    },
    embedCalls: 0,
    embed(texts: string[]) {
      this.embedCalls++;
      return tf.tidy(() => tf.matMul(tf.ones([texts.length, 2]), v)) as tf.Tensor2D;
    },
    trainableVariables: () => [v],
    dispose: () => v.dispose(),
  };
}

const longText = (i: number) => `text ${i} ` + 'word '.repeat(300);

test('InBatchNegativesLoss refuses, on wasm and before any forward pass, a bert-base batch of 64 x 512 tokens', async () => {
  await tf.setBackend('wasm');
  const enc = fakeSentenceEncoder(parseBertConfig({ model_type: 'bert' }), 512);
  const queries = Array.from({ length: 64 }, (_, i) => longText(i));
  const positives = Array.from({ length: 64 }, (_, i) => longText(100 + i));
  assert.throws(
    () => new InBatchNegativesLoss().computeGradients(enc, enc, { queries, positives }),
    (e: unknown) => e instanceof ArgumentError && /batch size 64 .* at sequence length 305/.test(e.message),
  );
  assert.equal(enc.embedCalls, 0, 'refused before embedding');
  // The same batch of short texts fits (the guard sizes the padded length, not maxSeqLength).
  const short = (n: number) => Array.from({ length: 64 }, (_, i) => `short ${n + i}`);
  const { grads } = new InBatchNegativesLoss().computeGradients(enc, enc, {
    queries: short(0),
    positives: short(100),
  });
  assert.equal(enc.embedCalls, 2);
  for (const g of grads.values()) g.dispose();
  enc.dispose();
});

test('the guard does not fire on the cpu backend (no heap cap) nor for encoders it cannot size', async () => {
  const enc = fakeSentenceEncoder(parseBertConfig({ model_type: 'bert' }), 512);
  const queries = Array.from({ length: 64 }, (_, i) => longText(i));
  const positives = Array.from({ length: 64 }, (_, i) => longText(100 + i));
  await tf.setBackend('cpu');
  try {
    const { grads } = new InBatchNegativesLoss().computeGradients(enc, enc, { queries, positives });
    for (const g of grads.values()) g.dispose();
  } finally {
    await tf.setBackend('wasm');
  }
  // On wasm, an encoder without a BERT config is not sized.
  guardTrainingStep({ embed: () => null }, { embed: () => null }, queries, positives);
  enc.dispose();
});

test('CachedInBatchNegativesLoss refuses, before any forward pass, a mini-batch too large for the heap, and its suggestion runs', async () => {
  await tf.setBackend('wasm');
  const enc = fakeSentenceEncoder(parseBertConfig({ model_type: 'bert' }), 512);
  const queries = Array.from({ length: 64 }, (_, i) => longText(i));
  const positives = Array.from({ length: 64 }, (_, i) => longText(100 + i));
  let suggested = 0;
  assert.throws(
    () =>
      new CachedInBatchNegativesLoss({ miniBatchSize: 64 }).computeGradients(enc, enc, {
        queries,
        positives,
      }),
    (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.match(
        e.message,
        /miniBatchSize: .*embeds 64 texts of up to 305 tokens.*use miniBatchSize (\d+)/,
      );
      suggested = Number(/use miniBatchSize (\d+)/.exec(e.message)![1]);
      return true;
    },
  );
  assert.equal(enc.embedCalls, 0, 'refused before embedding');
  assert.ok(suggested >= 1 && suggested < 64, `suggested ${suggested}`);
  const { grads } = new CachedInBatchNegativesLoss({ miniBatchSize: suggested }).computeGradients(enc, enc, {
    queries,
    positives,
  });
  assert.ok(enc.embedCalls > 0);
  for (const g of grads.values()) g.dispose();
  // Off wasm there is no cap.
  await tf.setBackend('cpu');
  try {
    const r = new CachedInBatchNegativesLoss({ miniBatchSize: 64 }).computeGradients(enc, enc, {
      queries,
      positives,
    });
    for (const g of r.grads.values()) g.dispose();
  } finally {
    await tf.setBackend('wasm');
  }
  enc.dispose();
});

test('each architecture is counted and sized by its own registry entry: parameter count = its variables', () => {
  const shape = {
    vocab_size: 100,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 24,
    max_position_embeddings: 40,
    pad_token_id: 1,
  };
  const configs = [
    { model_type: 'roberta', ...shape, type_vocab_size: 1 },
    { model_type: 'xlm-roberta', ...shape, type_vocab_size: 1 },
    {
      model_type: 'distilbert',
      vocab_size: 100,
      dim: 16,
      n_layers: 2,
      n_heads: 2,
      hidden_dim: 24,
      max_position_embeddings: 40,
    },
    { model_type: 'mpnet', ...shape },
    { model_type: 'modernbert', ...shape },
    { model_type: 'modernbert', ...shape, attention_bias: true, mlp_bias: true, norm_bias: true },
  ];
  for (const json of configs) {
    const config = parseEncoderConfig(json);
    const model = randomEncoder(config, 1);
    const real = [...model.variables().values()].reduce((n, v) => n + v.size, 0);
    const counted = architectureFor(config.model_type).parameterCount(config);
    // MPNet's relative-attention bias table (buckets x heads) is left out of the count.
    const extra = config.model_type === 'mpnet' ? 32 * 2 : 0;
    assert.equal(counted + extra, real, `${config.model_type}`);
    model.dispose();
  }
});

test("ModernBERT's estimate follows its measured peaks (composed layers, ~3x BERT per token), not BERT's", () => {
  // Peak live wasm-heap MB of benchmarks/train-memory.ts --arch modernbert (6 layers; docs/training.md).
  const shapeA = { hidden_size: 384, intermediate_size: 576, num_attention_heads: 6 };
  const shapeB = { hidden_size: 256, intermediate_size: 768, num_attention_heads: 4 };
  const measured = [
    { shape: shapeA, batch: 4, seq: 128, mb: 1194.8 },
    { shape: shapeA, batch: 12, seq: 128, mb: 3028.0 },
    { shape: shapeA, batch: 6, seq: 256, mb: 3314.8 },
    { shape: shapeB, batch: 12, seq: 128, mb: 2417.5 },
  ];
  for (const { shape, batch, seq, mb } of measured) {
    const json = {
      model_type: 'modernbert',
      vocab_size: 30522,
      pad_token_id: 0,
      max_position_embeddings: 512,
      num_hidden_layers: 6,
      ...shape,
    };
    const calls = [
      { sequences: batch, seqLen: seq },
      { sequences: batch, seqLen: seq },
    ];
    const est = estimateTrainingBytes(parseEncoderConfig(json), calls) / 1e6;
    assert.ok(Math.abs(est / mb - 1) < 0.05, `batch ${batch} seq ${seq}: ${est} vs ${mb} MB`);
    // Sized as BERT, a large step would be estimated at a fraction of what it takes.
    const asBert = estimateTrainingBytes({ ...parseEncoderConfig(json), model_type: undefined }, calls) / 1e6;
    if (batch >= 12) assert.ok(asBert < 0.6 * mb, `as BERT: ${asBert} MB`);
  }
  // A step of 20 x 128 tokens per tower in shape A needs ~4.9 GB (linear in the measured peaks): refused with a
  // mini-batch that fits, where BERT's sizing would have let it run into the heap limit.
  const small = parseEncoderConfig({
    model_type: 'modernbert',
    vocab_size: 30522,
    pad_token_id: 0,
    max_position_embeddings: 512,
    num_hidden_layers: 6,
    ...shapeA,
  });
  const step = { queries: 20, passages: 20, queryLen: 128, passageLen: 128 };
  assert.throws(
    () => checkTrainingMemory(small, step),
    (e: unknown) => e instanceof ArgumentError && /miniBatchSize: \d+/.test(e.message),
  );
  checkTrainingMemory({ ...small, model_type: undefined }, step);
  checkTrainingMemory(small, { queries: 8, passages: 8, queryLen: 128, passageLen: 128 });
  // gte-modernbert-base's shape (149M parameters, vocabulary 50,368): the AdamW update alone (weights,
  // gradients, two moments, the embedding table's update temporaries) needs more than the heap, so even one
  // sequence is refused before the wasm module would abort.
  assert.throws(
    () =>
      checkTrainingMemory(parseEncoderConfig({ model_type: 'modernbert' }), {
        queries: 1,
        passages: 1,
        queryLen: 128,
        passageLen: 128,
      }),
    /even one sequence of 128 tokens does not fit/,
  );
});
