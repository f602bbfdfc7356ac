import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { buildOnnxGraph, serializeOnnxGraph } from '../../src/export/onnx-model.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import type { EncodedBatch } from '../../src/tokenize/tokenizer.js';
import { EXPORT_FIXTURES, feedsFor, loadFixture, maxAbs, ort, SESSION_OPTIONS } from './onnx-helpers.js';

/**
 * The exported graph restores the closing special tokens on rows a tokenizer cut at max_seq_length the way
 * transformers.js does (the finished sequence cut, `[CLS] w1 … w(n-1)`), and is the identity on rows a
 * tokenizer cut as sentence-transformers does (`[CLS] w1 … w(n-2) [SEP]`), at any padded length.
 */

before(async () => {
  await initBackend();
});

const MAX = 12;
const TEXTS = [
  'dense retrieval maps queries and passages to vectors so that relevant passages score highest.',
  'a short query',
  'BM25 is a sparse baseline; dense models are trained on pairs of queries and relevant passages.',
  'x',
];

/** `full` (untruncated rows) cut to `max` tokens as transformers.js 4 cuts them: the sequence's first `max` ids. */
function cutLikeTransformersJs(full: EncodedBatch, max: number, padId: number): EncodedBatch {
  const rows = full.batchSize;
  const lengths = Array.from({ length: rows }, (_, r) =>
    full.attentionMask.subarray(r * full.seqLen, (r + 1) * full.seqLen).reduce((a, b) => a + b, 0),
  );
  const seqLen = Math.min(max, Math.max(...lengths));
  const out: EncodedBatch = {
    inputIds: new Int32Array(rows * seqLen).fill(padId),
    attentionMask: new Int32Array(rows * seqLen),
    tokenTypeIds: new Int32Array(rows * seqLen),
    batchSize: rows,
    seqLen,
  };
  for (let r = 0; r < rows; r++) {
    const n = Math.min(lengths[r], max);
    out.inputIds.set(full.inputIds.subarray(r * full.seqLen, r * full.seqLen + n), r * seqLen);
    out.attentionMask.fill(1, r * seqLen, r * seqLen + n);
  }
  return out;
}

async function sentenceEmbedding(session: ort.InferenceSession, batch: EncodedBatch): Promise<Float32Array> {
  return (await session.run(feedsFor(session, batch), ['sentence_embedding'])).sentence_embedding
    .data as Float32Array;
}

async function session(encoder: SentenceEncoder, restore: boolean): Promise<ort.InferenceSession> {
  const built = buildOnnxGraph(encoder, {}, { restoreClosingTokens: restore });
  return ort.InferenceSession.create(serializeOnnxGraph(built)!.model, SESSION_OPTIONS);
}

for (const arch of EXPORT_FIXTURES) {
  test(`${arch}: the exported graph restores the closing token on rows cut at max_seq_length, and leaves correct rows alone`, async () => {
    const base = await loadFixture(arch);
    const at = (maxSeqLength: number) =>
      new SentenceEncoder({
        model: base.model,
        tokenizer: base.tokenizer,
        pooling: 'mean',
        normalize: false,
        maxSeqLength,
        dense: [],
      });
    const encoder = at(MAX);
    const { suffix } = base.tokenizer.singleTextSpecials;
    assert.equal(suffix.length, 1, `${arch}: one closing token`);
    const exported = await session(encoder, true);
    const plain = await session(encoder, false);
    try {
      const full = base.tokenizer.encodeBatch(TEXTS, { maxLength: 512 });
      assert.ok(full.seqLen > MAX + 2, 'two texts are longer than the limit');
      const theirs = cutLikeTransformersJs(full, MAX, base.tokenizer.padTokenId);
      assert.notEqual(theirs.inputIds[MAX - 1], suffix[0], 'the cut row does not end with the closing token');
      const expected = encoder.embed(TEXTS);
      const ours = expected.dataSync();
      expected.dispose();

      const restored = await sentenceEmbedding(exported, theirs);
      assert.ok(maxAbs(restored, ours) < 1e-4, `${arch}: cut rows, max abs diff ${maxAbs(restored, ours)}`);
      // Without the step the same input gives another vector: the test sees what the step does.
      const unrestored = await sentenceEmbedding(plain, theirs);
      assert.ok(maxAbs(unrestored, ours) > 1e-3, `${arch}: the cut row differs without the step`);

      // Rows cut as sentence-transformers cuts them: unchanged, at the model's limit ...
      const correct = base.tokenizer.encodeBatch(TEXTS, { maxLength: MAX });
      assert.ok(maxAbs(await sentenceEmbedding(exported, correct), ours) < 1e-4, `${arch}: correct rows`);
      // ... and padded beyond it (a caller who raised the limit, with one row exactly MAX long).
      const exactly = base.tokenizer
        .encodeIds('vectors of sentences and passages '.repeat(8))
        .slice(0, MAX - 2);
      const wide = base.tokenizer.batchFromIds([...TEXTS.map((t) => base.tokenizer.encodeIds(t)), exactly], {
        maxLength: 2 * MAX,
      });
      assert.ok(wide.seqLen > MAX, `padded to ${wide.seqLen}`);
      const reference = encoder.embedTokens({ ...wide, poolMask: wide.attentionMask });
      const want = reference.dataSync();
      reference.dispose();
      const got = await sentenceEmbedding(exported, wide);
      assert.ok(
        maxAbs(got, want) < 1e-4,
        `${arch}: rows padded past the limit, max abs diff ${maxAbs(got, want)}`,
      );
    } finally {
      await exported.release();
      await plain.release();
      base.dispose();
    }
  });
}
