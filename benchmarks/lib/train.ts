/**
 * Case 1: one training step of a tied bi-encoder: forward of queries and positives, in-batch negatives
 * loss, backward, gradient clipping at 1.0 and an AdamW update, exactly the step the PyTorch reference
 * times. Inputs are random token ids of the full sequence length (no padding), written to the work
 * directory so the reference trains on the very same ids.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CachedInBatchNegativesLoss } from '../../src/losses/cached-in-batch-negatives.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import type { RetrievalLoss, TrainableEncoder } from '../../src/losses/types.js';
import { BertModel, parseBertConfig } from '../../src/models/architectures/bert.js';
import { pool } from '../../src/models/pooling.js';
import { AdamW, clipGradNorm } from '../../src/optim/adamw.js';
import { Rng } from '../../src/util/random.js';
import { cpuSince, note, since, writeNpyInt32 } from './common.js';
import type { Row } from './common.js';
import type { BenchOptions } from './options.js';

/**
 * A tower that embeds pre-tokenized rows: a "text" is the key of a row of ids. Tokenization is left out on
 * both sides of the comparison, so the step measures the model alone.
 */
class IdsEncoder implements TrainableEncoder {
  constructor(
    readonly bert: BertModel,
    private readonly rows: Map<string, Int32Array>,
    private readonly seqLen: number,
  ) {}

  embed(texts: string[], options: { training?: boolean; dropoutSeed?: number } = {}): tf.Tensor2D {
    const ids = new Int32Array(texts.length * this.seqLen);
    texts.forEach((t, i) => ids.set(this.rows.get(t)!, i * this.seqLen));
    const shape: [number, number] = [texts.length, this.seqLen];
    return tf.tidy(() => {
      const attentionMask = tf.ones(shape, 'int32') as tf.Tensor2D;
      const hidden = this.bert.forward(
        { inputIds: tf.tensor2d(ids, shape, 'int32'), attentionMask, tokenTypeIds: tf.zeros(shape, 'int32') },
        options,
      );
      return pool(hidden, attentionMask, 'mean');
    });
  }

  trainableVariables(): tf.Variable[] {
    return [...this.bert.variables().values()];
  }
}

export async function benchTrain(opts: BenchOptions, backend: string, workdir: string): Promise<Row> {
  const { shape } = opts;
  const { seqLen, batchSize, steps, warmup, miniBatch } = opts.train;
  const config = parseBertConfig({
    model_type: 'bert',
    vocab_size: shape.vocab,
    hidden_size: shape.hidden,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: shape.intermediate,
    max_position_embeddings: Math.max(512, seqLen),
  });
  const rng = new Rng(1);
  // Ids above the special tokens, as real text would give.
  const low = Math.min(1000, shape.vocab - 1);
  const q = new Int32Array(batchSize * seqLen).map(() => low + rng.int(shape.vocab - low));
  const p = new Int32Array(batchSize * seqLen).map(() => low + rng.int(shape.vocab - low));
  await writeNpyInt32(path.join(workdir, 'train_q.npy'), q, [batchSize, seqLen]);
  await writeNpyInt32(path.join(workdir, 'train_p.npy'), p, [batchSize, seqLen]);
  const rows = new Map<string, Int32Array>();
  const queries: string[] = [];
  const positives: string[] = [];
  for (let i = 0; i < batchSize; i++) {
    queries.push(`q${i}`);
    positives.push(`p${i}`);
    rows.set(`q${i}`, q.subarray(i * seqLen, (i + 1) * seqLen));
    rows.set(`p${i}`, p.subarray(i * seqLen, (i + 1) * seqLen));
  }
  const bert = BertModel.random(config, 0);
  const encoder = new IdsEncoder(bert, rows, seqLen);
  const cached = miniBatch < batchSize;
  const loss: RetrievalLoss = cached
    ? new CachedInBatchNegativesLoss({ miniBatchSize: miniBatch })
    : new InBatchNegativesLoss();
  const optimizer = new AdamW({ weightDecay: 0.01 });
  const step = (i: number): number => {
    const { loss: value, grads } = loss.computeGradients(
      encoder,
      encoder,
      { queries, positives },
      { dropoutSeed: i },
    );
    clipGradNorm(grads, 1.0);
    optimizer.applyGradients(grads, 2e-5);
    for (const g of grads.values()) g.dispose();
    return value;
  };
  try {
    note(
      `train-step: ${shape.layers} layers x ${shape.hidden}, seq ${seqLen}, batch ${batchSize} on ${backend}: ` +
        `${warmup} warm-up + ${steps} measured steps` +
        (cached ? `, gradient caching in mini-batches of ${miniBatch}` : ''),
    );
    for (let i = 0; i < warmup; i++) step(i);
    const tensorsBefore = tf.memory().numTensors;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let last = 0;
    for (let i = 0; i < steps; i++) last = step(warmup + i);
    const seconds = since(t0) / steps;
    const cpuSeconds = cpuSince(c0) / steps;
    const leaked = tf.memory().numTensors - tensorsBefore;
    note(
      `train-step: ${seconds.toFixed(2)} s/step, ${cpuSeconds.toFixed(2)} CPU s/step (loss ${last.toFixed(3)}, tensor delta ${leaked})`,
    );
    return {
      name: 'train-step',
      backend,
      layers: shape.layers,
      hidden: shape.hidden,
      heads: shape.heads,
      intermediate: shape.intermediate,
      seqLen,
      batchSize,
      vocab: shape.vocab,
      steps,
      warmup,
      loss: cached ? 'cached-in-batch-negatives' : 'in-batch-negatives',
      miniBatch: cached ? miniBatch : batchSize,
      secondsPerStep: seconds,
      cpuSecondsPerStep: cpuSeconds,
      pairsPerSec: batchSize / seconds,
      tensorDelta: leaked,
    };
  } finally {
    optimizer.dispose();
    bert.dispose();
  }
}
