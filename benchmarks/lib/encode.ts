/**
 * Case 2: encoding SciFact passages for inference with a randomly initialised model of the benchmark
 * shape (speed does not depend on the weights). Measured single-threaded (`SentenceEncoder.encode` in this
 * thread) and with `encodeParallel` at each requested worker count, on the same texts. A full corpus would
 * take tens of minutes on wasm, so an evenly strided sample of it is encoded and the count is reported.
 * The sample's token ids go to the work directory for the reference script. This case measures the tfjs
 * engine (the ONNX Runtime engine is the `onnx` case).
 */
import path from 'node:path';
import type { BackendName } from '../../src/backend/index.js';
import { streamCorpus } from '../../src/data/beir.js';
import { BertModel, parseBertConfig } from '../../src/models/architectures/bert.js';
import { encodeParallel } from '../../src/models/parallel-encode.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../../src/tokenize/tokenizer.js';
import { passageText } from '../../src/train/examples.js';
import { cpuSince, note, since, writeNpyInt32 } from './common.js';
import type { Row } from './common.js';
import type { BenchOptions, Shape } from './options.js';

export const SCIFACT_CORPUS = path.join(
  import.meta.dirname,
  '..',
  '..',
  'examples',
  'data',
  'scifact',
  'corpus.jsonl',
);

/** The first `limit` SciFact passages as `title text`. */
export async function readPassages(limit: number): Promise<string[]> {
  const out: string[] = [];
  for await (const doc of streamCorpus(SCIFACT_CORPUS)) {
    out.push(passageText(doc));
    if (out.length === limit) break;
  }
  return out;
}

/**
 * The encode cases' model: a randomly initialised BERT of `shape` (seed 0) with mean pooling, no
 * normalisation, texts cut at `seqLen` — the same weights on every side that encodes it.
 */
export function randomBenchEncoder(shape: Shape, tokenizer: TextTokenizer, seqLen: number): SentenceEncoder {
  const config = parseBertConfig({
    model_type: 'bert',
    vocab_size: Math.max(shape.vocab, tokenizer.vocabSize),
    hidden_size: shape.hidden,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: shape.intermediate,
    max_position_embeddings: Math.max(512, seqLen),
  });
  const encoder = new SentenceEncoder({
    bert: BertModel.random(config, 0),
    tokenizer,
    pooling: 'mean',
    normalize: false,
    maxSeqLength: seqLen,
  });
  return encoder;
}

export async function benchEncode(opts: BenchOptions, backend: BackendName, workdir: string): Promise<Row[]> {
  const { shape } = opts;
  const { seqLen, batchSize, corpus, texts: count, workers } = opts.encode;
  const passages = await readPassages(corpus);
  const stride = passages.length / count;
  const texts = Array.from({ length: count }, (_, i) => passages[Math.floor(i * stride)]);
  const tokenizer = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);
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
  const meanTokens = lengths.reduce((a, b) => a + b, 0) / count;

  const encoder = randomBenchEncoder(shape, tokenizer, seqLen);
  const common = {
    layers: shape.layers,
    hidden: shape.hidden,
    heads: shape.heads,
    intermediate: shape.intermediate,
    seqLen,
    batchSize,
    vocab: Math.max(shape.vocab, tokenizer.vocabSize),
    texts: count,
    corpusTexts: passages.length,
    meanTokens,
  };
  const rows: Row[] = [];
  try {
    const modelDir = path.join(workdir, 'encode-model');
    await encoder.save(modelDir);
    note(
      `encode: ${count} of ${passages.length} SciFact passages (mean ${meanTokens.toFixed(0)} tokens, ` +
        `max ${seqLen}), batch ${batchSize}, on ${backend}`,
    );
    let t0 = performance.now();
    let c0 = process.cpuUsage();
    await encoder.encode(texts, { batchSize, quiet: true, engine: 'tfjs' });
    let seconds = since(t0);
    let cpuSeconds = cpuSince(c0);
    note(`encode (this thread): ${(count / seconds).toFixed(2)} texts/s`);
    rows.push({
      name: 'encode',
      backend,
      variant: 'thread',
      workers: 0,
      ...common,
      seconds,
      textsPerSec: count / seconds,
    });
    for (const w of workers) {
      t0 = performance.now();
      c0 = process.cpuUsage();
      await encodeParallel(modelDir, texts, {
        workers: w,
        batchSize,
        quiet: true,
        backend,
        engine: 'tfjs',
      });
      seconds = since(t0);
      cpuSeconds = cpuSince(c0);
      // Start-up (spawning, backend init, model load in every worker) measured apart, on one tiny text per
      // worker, so that the steady rate of a long corpus can be told from the fixed cost.
      t0 = performance.now();
      await encodeParallel(modelDir, Array(w).fill('a'), {
        workers: w,
        batchSize: 1,
        quiet: true,
        backend,
        engine: 'tfjs',
      });
      const startupSeconds = since(t0);
      note(
        `encode (${w} worker${w === 1 ? '' : 's'}): ${(count / seconds).toFixed(2)} texts/s, ` +
          `start-up ${startupSeconds.toFixed(1)} s, ${cpuSeconds.toFixed(0)} CPU s in ${seconds.toFixed(0)} s`,
      );
      rows.push({
        name: 'encode',
        backend,
        variant: `workers=${w}`,
        workers: w,
        ...common,
        seconds,
        cpuSeconds,
        startupSeconds,
        textsPerSec: count / seconds,
        textsPerSecAfterStartup: count / Math.max(1e-9, seconds - startupSeconds),
      });
    }
  } finally {
    encoder.dispose();
  }
  return rows;
}
