import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import type { TowerEncoder } from '../../src/models/bi-encoder.js';
import { createEvaluationCallback } from '../../src/train/evaluation-callback.js';
import type { CorpusDoc, Qrels } from '../../src/types.js';

before(async () => {
  await initBackend();
});

const TOPICS = ['river', 'desert', 'ocean', 'forest'];

/** Embeds a text as the one-hot of the first topic word it contains, shifted by `shift` (0 = oracle). */
function topicEncoder(shift: number): TowerEncoder {
  return {
    embed(texts: string[]) {
      const data = new Float32Array(texts.length * TOPICS.length);
      texts.forEach((t, i) => {
        const topic = TOPICS.findIndex((w) => t.includes(w));
        data[i * TOPICS.length + ((topic + shift) % TOPICS.length)] = 1;
      });
      return tf.tensor2d(data, [texts.length, TOPICS.length]);
    },
    trainableVariables: () => [],
  };
}

const corpus: CorpusDoc[] = TOPICS.map((t, i) => ({ id: `d${i}`, title: '', text: `all about the ${t}` }));
const queries = new Map(TOPICS.map((t, i) => [`q${i}`, `where is the ${t}`] as const));
const qrels: Qrels = new Map(TOPICS.map((_, i) => [`q${i}`, new Map([[`d${i}`, 1]])] as const));

test('an oracle model scores 1, a wrong one lower, through exhaustive search of the right towers', async () => {
  const evaluate = createEvaluationCallback({
    corpus,
    queries,
    qrels,
    measures: ['ndcg_cut.10', 'recall.1'],
  });
  const oracle = await evaluate(BiEncoder.tied(topicEncoder(0), { similarity: 'cosine' }));
  assert.deepEqual(oracle, { ndcg_cut_10: 1, recall_1: 1 });
  // Query tower shifted against the passage tower: every query's top document is wrong.
  const crossed = await evaluate(BiEncoder.untied(topicEncoder(1), topicEncoder(0)));
  assert.equal(crossed.recall_1, 0);
  assert.ok(crossed.ndcg_cut_10 < 1);
  const before = tf.memory().numTensors;
  await evaluate(BiEncoder.tied(topicEncoder(0)));
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
});

test('empty inputs are named errors', () => {
  assert.throws(
    () => createEvaluationCallback({ corpus: [], queries, qrels }),
    (e: unknown) => e instanceof ArgumentError && e.message === 'corpus: is empty',
  );
  assert.throws(
    () => createEvaluationCallback({ corpus, queries: new Map(), qrels }),
    /qrels: judge none of the given queries/,
  );
});

test('issue 12: a query with an empty judgement map is not encoded or evaluated', async () => {
  const seen: string[] = [];
  const counting: TowerEncoder = {
    embed(texts: string[]) {
      seen.push(...texts);
      return topicEncoder(0).embed(texts);
    },
    trainableVariables: () => [],
  };
  const partial: Qrels = new Map([...qrels, ['q3', new Map<string, number>()]]);
  const evaluate = createEvaluationCallback({ corpus, queries, qrels: partial, measures: ['recall.1'] });
  assert.deepEqual(await evaluate(BiEncoder.tied(counting)), { recall_1: 1 });
  assert.ok(!seen.includes('where is the forest'), 'q3 has no judgement line, so it is no query');
  const none: Qrels = new Map([['q0', new Map<string, number>()]]);
  assert.throws(() => createEvaluationCallback({ corpus, queries, qrels: none }), /qrels: judge none/);
});

test('evaluation on ONNX Runtime follows the weights as training changes them, as tfjs does', async () => {
  const { SentenceEncoder } = await import('../../src/models/sentence-encoder.js');
  const { tinyConfig } = await import('./tiny-bert.js');
  const { tmpDir } = await import('../helpers/tmp.js');
  const encoder = await SentenceEncoder.fromScratch(tinyConfig(tmpDir()), undefined, { seed: 3 });
  const model = BiEncoder.tied(encoder, { similarity: 'cosine' });
  const options = { corpus, queries, qrels, measures: ['ndcg_cut.10', 'recall.1'] };
  const onnx = createEvaluationCallback({ ...options, engine: 'onnx' });
  const tfjs = createEvaluationCallback({ ...options, engine: 'tfjs' });
  const close = (a: Record<string, number>, b: Record<string, number>) => {
    for (const k of Object.keys(b)) assert.ok(Math.abs(a[k] - b[k]) < 1e-9, `${k}: ${a[k]} vs ${b[k]}`);
  };
  try {
    const first = await onnx(model);
    close(first, await tfjs(model));
    // An optimizer step assigns new values: the next evaluation must see them, not the first session's.
    for (const v of encoder.trainableVariables()) {
      const next = tf.tidy(() => tf.add(v, tf.randomNormal(v.shape, 0, 0.5, 'float32', 11)));
      v.assign(next);
      next.dispose();
    }
    const vectors = await model.encodePassages(['all about the river'], { engine: 'onnx', quiet: true });
    const expected = await model.encodePassages(['all about the river'], { engine: 'tfjs', quiet: true });
    assert.ok(Math.max(...vectors.data.map((x, i) => Math.abs(x - expected.data[i]))) <= 1e-4);
    close(await onnx(model), await tfjs(model));
  } finally {
    encoder.dispose();
  }
});
