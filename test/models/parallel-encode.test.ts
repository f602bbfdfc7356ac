import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadModel } from '../../src/models/load.js';
import { ArgumentError, DenseRetrievalError, InputFormatError } from '../../src/errors.js';
import { encodeParallel } from '../../src/models/parallel-encode.js';
import type { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir, maxAbsDiff } from './bert-fixture.js';

// Made at load time: tmpDir's cleanup registered inside a before() hook would run right after that hook.
const modelDir = e2eModelDir();
const failingDir = e2eModelDir();
const broken = tmpDir('dr-pe-');
let encoder: SentenceEncoder;

// Lengths from 2 to ~60 tokens in a scrambled order, so that length sorting really reorders them and the
// batches are unevenly padded.
const texts = Array.from(
  { length: 37 },
  (_, i) => `${'dense retrieval vectors '.repeat(1 + ((i * 7) % 19))}number ${i}`,
);

before(async () => {
  await initBackend();
  encoder = await loadModel(modelDir, { quiet: true });
});

test('2 workers give the single-threaded encode, row for row, from a model directory', async () => {
  const expected = await encoder.encode(texts, { batchSize: 4, quiet: true });
  const got = await encodeParallel(modelDir, texts, { workers: 2, batchSize: 4, quiet: true });
  assert.deepEqual([got.rows, got.cols], [texts.length, 8]);
  assert.ok(
    maxAbsDiff(got.data, expected.data) <= 1e-6,
    `max abs diff ${maxAbsDiff(got.data, expected.data)}`,
  );
  // Order is preserved: row i is text i, not text i of the length-sorted order.
  const third = await encoder.encode([texts[3]], { quiet: true });
  assert.ok(maxAbsDiff(got.data.subarray(3 * 8, 4 * 8), third.data) <= 1e-5);
});

test('an in-memory SentenceEncoder is shipped to the workers; maxLength reaches them', async () => {
  const before = tf.memory().numTensors;
  const expected = await encoder.encode(texts, { batchSize: 8, maxLength: 8, quiet: true });
  const got = await encodeParallel(encoder, texts, { workers: 2, batchSize: 8, maxLength: 8, quiet: true });
  assert.ok(maxAbsDiff(got.data, expected.data) <= 1e-6);
  // Truncation really happened: a long text differs from its vector at the default max_seq_length (16).
  const full = await encoder.encode([texts[1]], { quiet: true });
  assert.ok(maxAbsDiff(got.data.subarray(8, 16), full.data) > 1e-4);
  assert.equal(tf.memory().numTensors, before, 'no tensors leak in the calling thread');
});

test('more workers than batches, and no texts at all', async () => {
  const few = await encodeParallel(modelDir, texts.slice(0, 3), { workers: 4, batchSize: 32, quiet: true });
  const expected = await encoder.encode(texts.slice(0, 3), { quiet: true });
  assert.ok(maxAbsDiff(few.data, expected.data) <= 1e-6);
  const none = await encodeParallel(modelDir, [], { workers: 2, quiet: true });
  assert.deepEqual([none.rows, none.cols, none.data.length], [0, 8, 0]);
});

test('bad arguments name the argument; a bad model directory names the file', async () => {
  const isArg = (message: string) => (e: unknown) => {
    assert.ok(e instanceof ArgumentError);
    assert.equal(e.message, message);
    return true;
  };
  await assert.rejects(
    encodeParallel(modelDir, ['a'], { workers: 0 }),
    isArg('workers: must be a positive integer, got 0'),
  );
  await assert.rejects(
    encodeParallel(modelDir, ['a'], { batchSize: 1.5 }),
    isArg('batchSize: must be a positive integer, got 1.5'),
  );
  await assert.rejects(
    encodeParallel(modelDir, ['a', 2 as unknown as string]),
    isArg('texts: element 1 is not a string'),
  );
  await assert.rejects(
    encodeParallel(modelDir, ['a'], { maxLength: 1000, quiet: true }),
    isArg('maxLength: must be an integer in [3, 128] (max_position_embeddings), got 1000'),
  );
  await assert.rejects(encodeParallel('scratch:config.json', ['a']), (e: unknown) => {
    assert.ok(e instanceof ArgumentError);
    assert.match(
      e.message,
      /^source: 'scratch:config.json' would be a different random model in every worker/,
    );
    return true;
  });
  writeFileSync(path.join(broken, 'config.json'), '{"model_type": ');
  await assert.rejects(encodeParallel(broken, ['a'], { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.equal(e.file, path.join(broken, 'config.json'));
    return true;
  });
});

test('a worker that fails is reported as an error, not a hang', async () => {
  // The tokenizer and config are fine (checked in this thread) but the weights are not: only workers see it.
  const dir = failingDir;
  writeFileSync(path.join(dir, 'model.safetensors'), 'not a safetensors file');
  await assert.rejects(
    encodeParallel(dir, texts, { workers: 2, batchSize: 4, quiet: true }),
    (e: unknown) => {
      assert.ok(e instanceof DenseRetrievalError);
      assert.match(e.message, /^encode worker \d: InputFormatError: .*model\.safetensors/);
      return true;
    },
  );
});

test('workers on either engine give the onnx and tfjs vectors; a worker left without a batch stops cleanly', async () => {
  const tfjs = await encoder.encode(texts, { batchSize: 4, quiet: true, engine: 'tfjs' });
  for (const engine of ['onnx', 'tfjs'] as const) {
    const got = await encodeParallel(modelDir, texts, { workers: 2, batchSize: 4, quiet: true, engine });
    assert.ok(maxAbsDiff(got.data, tfjs.data) <= 1e-4, `${engine}: ${maxAbsDiff(got.data, tfjs.data)}`);
  }
  // One batch, two workers: the second may still be opening its ONNX Runtime session when the work is done.
  // Terminating it there used to abort the whole process (Napi::Error); it is told to stop instead.
  const one = await encodeParallel(modelDir, texts.slice(0, 2), {
    workers: 2,
    batchSize: 4,
    quiet: true,
    engine: 'onnx',
  });
  assert.ok(maxAbsDiff(one.data, tfjs.data.subarray(0, 2 * 8)) <= 1e-4);
  await assert.rejects(
    encodeParallel(modelDir, texts, { engine: 'gpu' as 'onnx' }),
    /^ArgumentError: engine: must be one of auto, onnx, tfjs, got 'gpu'/,
  );
});
