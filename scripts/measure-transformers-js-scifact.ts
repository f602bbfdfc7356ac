/**
 * Issue 16's end-to-end check, reported in docs/deploy.md: a trained model exported with `exportOnnx` and
 * served by transformers.js (offline) retrieves like our own encoder. Run by hand:
 *
 *   npm run demo                      # trains demo-output/model
 *   npx tsx scripts/measure-transformers-js-scifact.ts demo-output/model [BEIR_DIR]
 *
 * Exports MODEL to a temporary directory, embeds the BEIR dataset's test queries and corpus (default
 * examples/data/scifact) with transformers.js' `feature-extraction` pipeline and with our `encode`
 * (tfjs engine), searches exhaustively with the model's similarity and prints nDCG@10 for both, the
 * largest embedding difference on texts within `max_seq_length` and over all texts, and how many texts
 * exceed the limit (transformers.js truncation drops the closing special token, which the exported graph
 * writes back: src/export/truncation.ts, docs/deploy.md). Only pooling modes transformers.js has (mean, cls) can be compared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import { initBackend } from '../src/backend/index.js';
import { loadBeir } from '../src/data/beir.js';
import { evaluateRun } from '../src/eval/metrics.js';
import { exportOnnx } from '../src/export/export-onnx.js';
import { ExactIndex } from '../src/index/exact.js';
import { searchResultToRun } from '../src/index/result-run.js';
import { loadModel } from '../src/models/load.js';
import { passageText } from '../src/train/examples.js';
import type { Matrix } from '../src/types.js';

const [modelDir, dataDir = 'examples/data/scifact'] = process.argv.slice(2);
if (modelDir === undefined) {
  console.error('usage: npx tsx scripts/measure-transformers-js-scifact.ts MODEL_DIR [BEIR_DIR]');
  process.exit(2);
}
await initBackend();
const encoder = await loadModel(modelDir, { quiet: true });
if (encoder.pooling !== 'mean' && encoder.pooling !== 'cls') {
  throw new Error(`transformers.js pools mean or cls; this model pools ${encoder.pooling}`);
}
const test = await loadBeir(dataDir, { split: 'test' });
const judged = [...test.qrels.keys()].filter((q) => test.queries.has(q));
const queryTexts = judged.map((q) => test.queries.get(q)!);
const docTexts = test.corpus.map(passageText);

const root = mkdtempSync(path.join(os.tmpdir(), 'dr-tjs-scifact-'));
try {
  await exportOnnx(encoder, path.join(root, 'model'), { quiet: true });
  env.allowRemoteModels = false;
  env.localModelPath = `${root}${path.sep}`;
  const extractor = await pipeline('feature-extraction', 'model', { dtype: 'fp32' });
  const theirs = async (texts: string[]): Promise<Matrix> => {
    const parts: Float32Array[] = [];
    let cols = 0;
    for (let i = 0; i < texts.length; i += 32) {
      const out = await extractor(texts.slice(i, i + 32), {
        pooling: encoder.pooling as 'mean' | 'cls',
        normalize: encoder.normalize,
      });
      cols = out.dims[1];
      parts.push(out.data as Float32Array);
    }
    const data = new Float32Array(texts.length * cols);
    parts.reduce((o, p) => (data.set(p, o), o + p.length), 0);
    return { data, rows: texts.length, cols };
  };
  const ours = (texts: string[]) => encoder.encode(texts, { quiet: true, engine: 'tfjs', batchSize: 32 });
  const metric = encoder.similarity === 'dot' ? 'ip' : encoder.normalize ? 'ip' : 'cosine';
  const ndcg = async (q: Matrix, d: Matrix): Promise<number> => {
    const index = new ExactIndex({ dim: d.cols, metric });
    await index.add(
      d,
      test.corpus.map((doc) => doc.id),
    );
    const run = searchResultToRun(await index.search(q, 10), judged);
    const mean = evaluateRun(test.qrels, run, ['ndcg_cut.10']).mean;
    return mean['ndcg_cut_10'] ?? mean['ndcg_cut.10'];
  };
  const fits = (t: string) =>
    encoder.tokenizer.tokenLength(t, { maxLength: encoder.maxSeqLength + 64 }) <= encoder.maxSeqLength;
  const diff = (a: Matrix, b: Matrix, texts: string[]) => {
    let all = 0;
    let within = 0;
    for (let r = 0; r < a.rows; r++) {
      let m = 0;
      for (let c = 0; c < a.cols; c++)
        m = Math.max(m, Math.abs(a.data[r * a.cols + c] - b.data[r * a.cols + c]));
      all = Math.max(all, m);
      if (fits(texts[r])) within = Math.max(within, m);
    }
    return { all, within };
  };
  const [tq, td] = [await theirs(queryTexts), await theirs(docTexts)];
  const [oq, od] = [await ours(queryTexts), await ours(docTexts)];
  const long = docTexts.filter((t) => !fits(t)).length + queryTexts.filter((t) => !fits(t)).length;
  const dq = diff(tq, oq, queryTexts);
  const dd = diff(td, od, docTexts);
  console.log(`model ${modelDir}: ${encoder.pooling} pooling, max_seq_length ${encoder.maxSeqLength}`);
  console.log(`texts longer than max_seq_length: ${long} of ${docTexts.length + queryTexts.length}`);
  console.log(
    `max abs diff within the limit ${Math.max(dq.within, dd.within).toExponential(2)}, ` +
      `over all texts ${Math.max(dq.all, dd.all).toExponential(2)}`,
  );
  console.log(`nDCG@10 ours (tfjs) ${(await ndcg(oq, od)).toFixed(4)}`);
  console.log(`nDCG@10 transformers.js ${(await ndcg(tq, td)).toFixed(4)}`);
  await extractor.dispose();
} finally {
  encoder.dispose();
  rmSync(root, { recursive: true, force: true });
}
