/**
 * Case `onnx` (issue 16): encoding on ONNX Runtime, three ways on the same random MiniLM-L6-shaped model, the
 * same SciFact passages (the `encode` case's sample, whose token ids the PyTorch reference reads) and the
 * same length-sorted batches:
 *   - our `SentenceEncoder.encode(..., { engine: 'onnx' })` (session from `buildOnnxModel`, in memory);
 *   - transformers.js' `feature-extraction` pipeline on the directory `exportOnnx` wrote (its own
 *     onnxruntime-node session; pooling `mean`, as the model), offline;
 *   - PyTorch on the same ids (torch_bench.py's `encode`, run by benchmarks/run.ts after this case).
 * Then `evaluate-model` end to end (a child process: start-up, model load, corpus + query encoding, exact
 * search, trec_eval measures) on a SciFact slice with `--engine onnx` and `--engine tfjs`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBeir } from '../../src/data/beir.js';
import { exportOnnx } from '../../src/export/export-onnx.js';
import type { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../../src/tokenize/tokenizer.js';
import { passageText } from '../../src/train/examples.js';
import { note, since, writeNpyInt32 } from './common.js';
import type { Row } from './common.js';
import { randomBenchEncoder, readPassages } from './encode.js';
import type { BenchOptions } from './options.js';

const REPO = path.join(import.meta.dirname, '..', '..');
const SCIFACT = path.join(REPO, 'examples', 'data', 'scifact');

/** Load average over the last minute, printed with every row: the machines are shared. */
const load1 = (): number => Number(os.loadavg()[0].toFixed(2));

/** Alternating timed rounds of each encode in the onnx case (the best of each side is reported). */
const ROUNDS = 3;

export async function benchEncodeOnnx(opts: BenchOptions, workdir: string): Promise<Row[]> {
  const { shape } = opts;
  const { seqLen, batchSize, corpus, texts: count } = opts.encode;
  const passages = await readPassages(corpus);
  const stride = passages.length / count;
  const texts = Array.from({ length: count }, (_, i) => passages[Math.floor(i * stride)]);
  const tokenizer = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);
  // The same ids the `encode` case writes, for the PyTorch reference.
  const batch = tokenizer.encodeBatch(texts, { maxLength: seqLen });
  const ids = new Int32Array(count * seqLen);
  const lengths = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < batch.seqLen; j++) {
      ids[i * seqLen + j] = batch.inputIds[i * batch.seqLen + j];
      lengths[i] += batch.attentionMask[i * batch.seqLen + j];
    }
  }
  await writeNpyInt32(path.join(workdir, 'ids.npy'), ids, [count, seqLen]);
  await writeNpyInt32(path.join(workdir, 'lengths.npy'), lengths, [count]);
  const encoder = randomBenchEncoder(shape, tokenizer, seqLen);
  const common = {
    name: 'encode',
    layers: shape.layers,
    hidden: shape.hidden,
    heads: shape.heads,
    intermediate: shape.intermediate,
    seqLen,
    batchSize,
    vocab: Math.max(shape.vocab, tokenizer.vocabSize),
    texts: count,
    corpusTexts: passages.length,
    workers: 0,
  };
  const rows: Row[] = [];
  try {
    // Export + session (ours) and pipeline load (transformers.js) once, reported apart; then `ROUNDS`
    // alternating rounds of the same encode, each side's best kept: on a shared machine the load changes
    // from one second to the next, and alternating gives both sides the same chances.
    let t0 = performance.now();
    await encoder.resolveEngine('onnx');
    const setupSeconds = since(t0);
    const root = path.join(workdir, 'transformers-js');
    await exportOnnx(encoder, path.join(root, 'model'), { quiet: true });
    const { env, pipeline } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = `${root}${path.sep}`;
    t0 = performance.now();
    const extractor = await pipeline('feature-extraction', 'model', { dtype: 'fp32' });
    const loadSeconds = since(t0);
    // transformers.js gets the batches our encode makes: longest first, ties by position.
    const order = texts.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
    let ours = await encoder.encode(texts.slice(0, 1), { engine: 'onnx', quiet: true });
    const theirs = new Float32Array(count * encoder.dim);
    const best = { ours: Infinity, theirs: Infinity };
    for (let round = 0; round < ROUNDS; round++) {
      t0 = performance.now();
      ours = await encoder.encode(texts, { engine: 'onnx', batchSize, quiet: true });
      best.ours = Math.min(best.ours, since(t0));
      t0 = performance.now();
      for (let s = 0; s < order.length; s += batchSize) {
        const idx = order.slice(s, s + batchSize);
        const out = await extractor(
          idx.map((i) => texts[i]),
          { pooling: 'mean', normalize: false },
        );
        const data = out.data as Float32Array;
        idx.forEach((row, j) =>
          theirs.set(data.subarray(j * ours.cols, (j + 1) * ours.cols), row * ours.cols),
        );
      }
      best.theirs = Math.min(best.theirs, since(t0));
    }
    await extractor.dispose();
    note(
      `encode (ONNX engine): ${(count / best.ours).toFixed(2)} texts/s (best of ${ROUNDS}), export + session ${setupSeconds.toFixed(1)} s`,
    );
    rows.push({
      ...common,
      backend: 'onnxruntime',
      variant: 'engine onnx',
      rounds: ROUNDS,
      seconds: best.ours,
      setupSeconds,
      textsPerSec: count / best.ours,
      load1: load1(),
    });
    const seconds = best.theirs;
    // Texts longer than seqLen are truncated differently (transformers.js drops the final [SEP]): compare
    // the rows that fit.
    let maxDiff = 0;
    for (let r = 0; r < count; r++) {
      if (lengths[r] >= seqLen) continue;
      for (let c = 0; c < ours.cols; c++) {
        maxDiff = Math.max(maxDiff, Math.abs(theirs[r * ours.cols + c] - ours.data[r * ours.cols + c]));
      }
    }
    note(
      `encode (transformers.js): ${(count / seconds).toFixed(2)} texts/s (best of ${ROUNDS}), pipeline load ${loadSeconds.toFixed(1)} s; ` +
        `max abs diff to ours ${maxDiff.toExponential(1)} on the texts that fit`,
    );
    rows.push({
      ...common,
      backend: 'transformers.js',
      variant: 'feature-extraction',
      seconds,
      loadSeconds,
      textsPerSec: count / seconds,
      maxAbsDiffToOurs: maxDiff,
      load1: load1(),
    });
    rows[0].vsTransformersJs = (rows[0].textsPerSec as number) / (count / seconds);
    note(
      `ONNX engine / transformers.js: ${(rows[0].vsTransformersJs as number).toFixed(2)}x (target >= 0.9x)`,
    );

    rows.push(...(await benchEvaluateModel(encoder, opts, workdir)));
  } finally {
    encoder.dispose();
  }
  return rows;
}

/**
 * `evaluate-model --index exact` on a SciFact slice (every judged document of the first `--eval-queries`
 * test queries plus other documents up to `--eval-docs`), once per engine, each in a fresh process.
 */
async function benchEvaluateModel(
  encoder: SentenceEncoder,
  opts: BenchOptions,
  workdir: string,
): Promise<Row[]> {
  const { docs: docCount, queries: queryCount, maxLength } = opts.evaluate;
  const { corpus, queries, qrels } = await loadBeir(SCIFACT, { split: 'test' });
  const queryIds = [...qrels.keys()].filter((q) => queries.has(q)).slice(0, queryCount);
  const keep = new Set(queryIds.flatMap((q) => [...qrels.get(q)!.keys()]));
  for (const d of corpus) if (keep.size < docCount) keep.add(d.id);
  const data = path.join(workdir, 'scifact-slice');
  mkdirSync(path.join(data, 'qrels'), { recursive: true });
  const docs = corpus.filter((d) => keep.has(d.id));
  writeFileSync(
    path.join(data, 'corpus.jsonl'),
    docs.map((d) => JSON.stringify({ _id: d.id, title: d.title, text: d.text })).join('\n') + '\n',
  );
  writeFileSync(
    path.join(data, 'queries.jsonl'),
    queryIds.map((q) => JSON.stringify({ _id: q, text: queries.get(q) })).join('\n') + '\n',
  );
  const lines = queryIds.flatMap((q) => [...qrels.get(q)!].map(([d, s]) => `${q}\t${d}\t${s}`));
  writeFileSync(
    path.join(data, 'qrels', 'test.tsv'),
    ['query-id\tcorpus-id\tscore', ...lines].join('\n') + '\n',
  );
  const modelDir = path.join(workdir, 'evaluate-model');
  await encoder.save(modelDir, { overwrite: 'replace' });
  const tokens = docs.reduce(
    (sum, d) => sum + encoder.tokenizer.tokenLength(passageText(d), { maxLength }),
    0,
  );
  const rows: Row[] = [];
  for (const engine of ['onnx', 'tfjs']) {
    const args = [
      '--import',
      'tsx',
      path.join(REPO, 'src', 'cli', 'main.ts'),
      'evaluate-model',
      '--model',
      modelDir,
      '--data',
      data,
      '--index',
      'exact',
      '--max-length',
      String(maxLength),
      '--batch-size',
      String(opts.encode.batchSize),
      '--engine',
      engine,
      '--quiet',
    ];
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    const seconds = since(t0);
    if (r.status !== 0) throw new Error(`evaluate-model --engine ${engine} failed: ${r.stderr}`);
    const ndcg = /exact\s+([\d.]+)/.exec(r.stdout)?.[1];
    note(
      `evaluate-model --engine ${engine}: ${seconds.toFixed(1)} s end to end (${docs.length} docs, ${queryIds.length} queries), nDCG@10 ${ndcg}`,
    );
    rows.push({
      name: 'evaluate-model',
      backend: engine === 'onnx' ? 'onnxruntime' : 'tfjs',
      variant: `engine ${engine}`,
      docs: docs.length,
      queries: queryIds.length,
      meanTokens: tokens / docs.length,
      maxLength,
      seconds,
      ndcgAt10: ndcg === undefined ? undefined : Number(ndcg),
      load1: load1(),
    });
  }
  rows[0].speedupVsTfjs = (rows[1].seconds as number) / (rows[0].seconds as number);
  note(
    `evaluate-model: ONNX engine ${(rows[0].speedupVsTfjs as number).toFixed(2)}x faster than tfjs (target >= 3x)`,
  );
  return rows;
}
