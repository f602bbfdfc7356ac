import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { env, pipeline } from '@huggingface/transformers';
import type { FeatureExtractionPipeline } from '@huggingface/transformers';
import { initBackend } from '../../src/backend/index.js';
import { loadBeir } from '../../src/data/beir.js';
import { evaluateRun } from '../../src/eval/metrics.js';
import { exportOnnx } from '../../src/export/export-onnx.js';
import { ExactIndex } from '../../src/index/exact.js';
import { searchResultToRun } from '../../src/index/result-run.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { passageText } from '../../src/train/examples.js';
import type { Matrix } from '../../src/types.js';
import { SCIFACT_DIR } from '../helpers/data.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';
import { maxAbsDiff } from '../models/bert-fixture.js';
import { fixtureDir } from './onnx-helpers.js';

// transformers.js (@huggingface/transformers, on onnxruntime-node) loading our exported directories offline:
// what a user who trained here and serves in JavaScript runs.
const root = tmpDir('dr-transformers-js-');
// Mixed lengths (padded batches), each within the BERT fixture's 16 tokens.
const TEXTS = ['dense retrieval maps queries to vectors.', 'a short query', 'BM25 is a sparse baseline', 'x'];
const pipelines: FeatureExtractionPipeline[] = [];

before(async () => {
  await initBackend();
  env.allowRemoteModels = false;
  env.localModelPath = `${root}${path.sep}`;
});

after(async () => {
  for (const p of pipelines) await p.dispose();
});

/** Export `encoder` as `root/name` and open transformers.js' feature-extraction pipeline on it. */
async function served(encoder: SentenceEncoder, name: string, dtype: 'fp32' | 'q8' = 'fp32') {
  await exportOnnx(encoder, path.join(root, name), {
    quiet: true,
    quantize: dtype === 'q8' ? 'q8' : undefined,
  });
  const extractor = await pipeline('feature-extraction', name, { dtype });
  pipelines.push(extractor);
  return extractor;
}

/** The parts of `encoder` a differently pooled encoder on the same model shares. */
function encoderParts(encoder: SentenceEncoder) {
  return {
    model: encoder.model,
    tokenizer: encoder.tokenizer,
    maxSeqLength: encoder.maxSeqLength,
    dense: [],
  };
}

/** transformers.js' embeddings as our Matrix. */
async function embed(
  extractor: FeatureExtractionPipeline,
  texts: string[],
  pooling: 'mean' | 'cls',
  normalize: boolean,
): Promise<Matrix> {
  const out = await extractor(texts, { pooling, normalize });
  return { data: out.data as Float32Array, rows: out.dims[0], cols: out.dims[1] };
}

test('exported models give our embeddings in transformers.js, offline (BERT, MPNet, RoBERTa; mean, cls)', async () => {
  for (const [arch, pooling, normalize] of [
    ['bert', 'mean', true],
    ['bert', 'cls', false],
    ['mpnet', 'mean', false],
    ['roberta', 'mean', true],
  ] as const) {
    const encoder = await SentenceEncoder.load(fixtureDir(arch), { quiet: true, pooling, normalize });
    try {
      const extractor = await served(encoder, `${arch}-${pooling}-${normalize}`);
      // Every text fits model_max_length (see the truncation test below for those that do not).
      for (const t of TEXTS) {
        const n = encoder.tokenizer.tokenLength(t, { maxLength: 512 });
        assert.ok(n <= encoder.maxSeqLength, `${arch}: ${n} tokens > ${encoder.maxSeqLength}: ${t}`);
      }
      const theirs = await embed(extractor, TEXTS, pooling, normalize);
      const ours = await encoder.encode(TEXTS, { quiet: true, engine: 'tfjs' });
      assert.deepEqual([theirs.rows, theirs.cols], [ours.rows, ours.cols]);
      const d = maxAbsDiff(theirs.data, ours.data);
      assert.ok(d <= 1e-4, `${arch} ${pooling}: max abs diff ${d}`);
    } finally {
      encoder.dispose();
    }
  }
});

test('transformers.js truncation drops the closing special token; the exported graph restores it, so long texts embed as ours', async () => {
  const encoder = await SentenceEncoder.load(fixtureDir('bert'), { quiet: true });
  try {
    const extractor = await served(encoder, 'bert-truncation');
    const long = 'dense retrieval '.repeat(40);
    const ours = encoder.tokenizer.encodeBatch([long], { maxLength: encoder.maxSeqLength });
    const theirs = extractor.tokenizer(long, { truncation: true }) as { input_ids: { data: BigInt64Array } };
    const theirIds = Array.from(theirs.input_ids.data, Number);
    const ourIds = Array.from(ours.inputIds);
    assert.equal(theirIds.length, encoder.maxSeqLength);
    assert.equal(ourIds.length, encoder.maxSeqLength);
    const [sep] = encoder.tokenizer.singleTextSpecials.suffix;
    assert.equal(ourIds[ourIds.length - 1], sep, 'ours ends with [SEP]');
    assert.notEqual(theirIds[theirIds.length - 1], sep, "transformers.js' last token is a word piece");
    assert.deepEqual(theirIds.slice(0, -1), ourIds.slice(0, -1), 'the same tokens before it');
    // The graph writes [SEP] back over that word piece: the same vectors, long and short texts batched together.
    const texts = [long, ...TEXTS, `${TEXTS[0]} `.repeat(5)];
    for (const [pooling, normalize] of [
      ['mean', true],
      ['cls', false],
    ] as const) {
      const a = await embed(extractor, texts, pooling, normalize);
      const probe = new SentenceEncoder({ ...encoderParts(encoder), pooling, normalize });
      const b = await probe.encode(texts, { quiet: true, engine: 'tfjs' });
      assert.ok(maxAbsDiff(a.data, b.data) <= 1e-4, `${pooling}: max abs diff ${maxAbsDiff(a.data, b.data)}`);
    }
  } finally {
    encoder.dispose();
  }
});

test('the q8 export loads as dtype q8 and stays near the float embeddings', async () => {
  const encoder = await SentenceEncoder.load(fixtureDir('bert'), { quiet: true });
  try {
    const extractor = await served(encoder, 'bert-q8', 'q8');
    const theirs = await embed(extractor, TEXTS, 'mean', true);
    const ours = await encoder.encode(TEXTS, { quiet: true });
    // The tolerance test/export/quantize.test.ts holds q8 to on these narrow fixtures.
    assert.ok(maxAbsDiff(theirs.data, ours.data) <= 0.05, String(maxAbsDiff(theirs.data, ours.data)));
    assert.ok(maxAbsDiff(theirs.data, ours.data) > 0, 'the quantized file was the one loaded');
  } finally {
    encoder.dispose();
  }
});

test('SciFact nDCG@10 by exact search is the same with transformers.js as with our encoder', async () => {
  // A one-layer BERT at 96 tokens, which cuts most abstracts (its position table holds 512).
  const configFile = tinyConfig(tmpDir(), 0, 32);
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(configFile, JSON.stringify({ ...config, max_position_embeddings: 512 }));
  const encoder = await SentenceEncoder.fromScratch(configFile, undefined, {
    seed: 5,
    normalize: true,
    maxSeqLength: 96,
  });
  try {
    const extractor = await served(encoder, 'scifact-tiny');
    const { corpus, queries, qrels } = await loadBeir(SCIFACT_DIR, { split: 'test' });
    // A slice of the corpus keeps the test fast: the judged documents of 40 queries plus others. Most
    // abstracts are longer than max_seq_length: the exported graph makes transformers.js truncate as we do.
    const byId = new Map(corpus.map((d) => [d.id, d]));
    const queryIds = [...qrels.keys()]
      .filter((q) => queries.has(q) && [...qrels.get(q)!.keys()].every((d) => byId.has(d)))
      .slice(0, 40);
    const ids = new Set(queryIds.flatMap((q) => [...qrels.get(q)!.keys()]));
    for (const d of corpus) if (ids.size < 150) ids.add(d.id);
    const docs = [...ids].map((id) => byId.get(id)!);
    assert.ok(queryIds.length >= 5, `only ${queryIds.length} queries`);
    const score = async (docVectors: Matrix, queryVectors: Matrix) => {
      const index = new ExactIndex({ dim: docVectors.cols, metric: 'cosine' });
      await index.add(docVectors, [...ids]);
      const run = searchResultToRun(await index.search(queryVectors, 10), queryIds);
      return evaluateRun(qrels, run, ['ndcg_cut.10']).mean.ndcg_cut_10;
    };
    const docTexts = docs.map(passageText);
    const queryTexts = queryIds.map((q) => queries.get(q)!);
    const cut = docTexts.filter(
      (t) => encoder.tokenizer.tokenLength(t, { maxLength: 4096 }) > encoder.maxSeqLength,
    );
    assert.ok(cut.length > docTexts.length / 2, `${cut.length} of ${docTexts.length} abstracts are cut`);
    const ourDocs = await encoder.encode(docTexts, { quiet: true });
    const theirDocs = await embed(extractor, docTexts, 'mean', true);
    const d = maxAbsDiff(ourDocs.data, theirDocs.data);
    assert.ok(d <= 1e-4, `abstracts: max abs diff ${d}`);
    const ours = await score(ourDocs, await encoder.encode(queryTexts, { quiet: true }));
    const theirs = await score(theirDocs, await embed(extractor, queryTexts, 'mean', true));
    assert.ok(ours > 0, 'some relevant document is found');
    assert.ok(Math.abs(ours - theirs) < 1e-9, `ours ${ours}, transformers.js ${theirs}`);
  } finally {
    encoder.dispose();
  }
});
