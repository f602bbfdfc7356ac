import * as tf from '@tensorflow/tfjs';
import { ArgumentError } from '../errors.js';
import { guardCachedStep, guardTrainingStep } from '../train/memory.js';
import { deriveSeed } from '../util/random.js';
import { batchPassages, checkBatch } from './batch.js';
import type { EmbeddingLoss, GradientResult, LossContext, TrainableEncoder, TrainingBatch } from './types.js';

/** The trainable variables of both encoders, each once (tied towers share them). */
export function uniqueVariables(a: TrainableEncoder, b: TrainableEncoder): tf.Variable[] {
  const seen = new Set<tf.Variable>();
  for (const v of [...a.trainableVariables(), ...b.trainableVariables()]) if (v.trainable) seen.add(v);
  return [...seen];
}

/** Re-key tfjs' name-keyed gradients by variable. */
export function byVariable(vars: tf.Variable[], named: tf.NamedTensorMap): Map<tf.Variable, tf.Tensor> {
  const out = new Map<tf.Variable, tf.Tensor>();
  for (const v of vars) {
    const g = named[v.name];
    if (g !== undefined) out.set(v, g);
  }
  return out;
}

/** `items` in consecutive chunks of `size` (the last one shorter). */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `miniBatchSize` must be an integer >= 1. */
export function checkMiniBatchSize(mb: unknown): number {
  if (typeof mb !== 'number' || !Number.isInteger(mb) || mb < 1) {
    throw new ArgumentError('miniBatchSize', `must be an integer >= 1, got ${String(mb)}`);
  }
  return mb;
}

function prepared(loss: EmbeddingLoss, batch: TrainingBatch, chunkSize?: number): LossContext | undefined {
  return loss.prepare?.(batch, chunkSize === undefined ? {} : { chunkSize });
}

/**
 * Loss and parameter gradients of `batch` for an embedding-level loss, all texts under one gradient tape:
 * the queries embedded with dropout seed `deriveSeed(seed, 0)`, the passages with `deriveSeed(seed, 1)`.
 * On the wasm backend, with BERT sentence encoders, a step that would outgrow the wasm heap is refused
 * first (`src/train/memory.ts`).
 *
 * @throws {ArgumentError} a malformed batch, or one the loss refuses (`validate`), or one too large.
 * @example
 * ```ts
 * const { loss, grads } = plainGradients(new MarginMSELoss(), encoder, encoder, batch);
 * ```
 */
export function plainGradients(
  loss: EmbeddingLoss,
  queryEncoder: TrainableEncoder,
  passageEncoder: TrainableEncoder,
  batch: TrainingBatch,
  options: { dropoutSeed?: number } = {},
): GradientResult {
  checkBatch(batch);
  loss.validate?.(batch);
  const passages = batchPassages(batch);
  const seed = options.dropoutSeed ?? 0;
  // On wasm a step that outgrows the 4 GiB heap aborts the wasm module: refuse it up front instead,
  // naming a gradient-cache mini-batch that fits (docs/training.md, "Memory on the wasm backend").
  guardTrainingStep(queryEncoder, passageEncoder, batch.queries, passages);
  const vars = uniqueVariables(queryEncoder, passageEncoder);
  const context = prepared(loss, batch);
  try {
    const { value, grads } = tf.variableGrads(() => {
      const q = queryEncoder.embed(batch.queries, { training: true, dropoutSeed: deriveSeed(seed, 0) });
      const p = passageEncoder.embed(passages, { training: true, dropoutSeed: deriveSeed(seed, 1) });
      return loss.lossFromEmbeddings(q, p, batch, context);
    }, vars);
    const value0 = value.dataSync()[0];
    value.dispose();
    return { loss: value0, grads: byVariable(vars, grads) };
  } finally {
    context?.dispose();
  }
}

/**
 * Loss and parameter gradients of `batch` for an embedding-level loss with gradient caching (Gao et al.
 * 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup"; sentence-transformers'
 * `Cached*` losses). The same loss value and gradients as {@link plainGradients}, with the activation
 * memory of one `miniBatchSize` chunk:
 *
 * 1. embed all queries and passages chunk by chunk without a gradient tape, keeping only the embeddings;
 * 2. compute the loss and its gradient w.r.t. those embeddings (cheap: `[B, d]` and `[N, d]`);
 * 3. re-embed each chunk with a tape and backpropagate `sum(emb * cachedGrad)`, accumulating parameter
 *    gradients (the chain rule, one chunk at a time).
 *
 * Chunk `c` of tower `t` (0 queries, 1 passages) uses dropout seed `deriveSeed(seed, t, c)` in steps 1
 * and 3, so both passes see the same dropout masks. The forward pass runs once per step whatever the
 * loss does with the embeddings (Matryoshka evaluates its inner loss per dimension in step 2 only).
 *
 * @throws {ArgumentError} a malformed batch, one the loss refuses, or a mini-batch too large for the heap.
 * @example
 * ```ts
 * const { loss, grads } = cachedGradients(new MarginMSELoss(), encoder, encoder, batch, { miniBatchSize: 8 });
 * ```
 */
export function cachedGradients(
  loss: EmbeddingLoss,
  queryEncoder: TrainableEncoder,
  passageEncoder: TrainableEncoder,
  batch: TrainingBatch,
  options: { miniBatchSize: number; dropoutSeed?: number },
): GradientResult {
  checkBatch(batch);
  loss.validate?.(batch);
  const miniBatchSize = checkMiniBatchSize(options.miniBatchSize);
  const passages = batchPassages(batch);
  const seed = options.dropoutSeed ?? 0;
  const towers = [
    { encoder: queryEncoder, parts: chunks(batch.queries, miniBatchSize), tower: 0 },
    { encoder: passageEncoder, parts: chunks(passages, miniBatchSize), tower: 1 },
  ];
  guardCachedStep(queryEncoder, passageEncoder, [towers[0].parts, towers[1].parts], miniBatchSize);
  const embedOptions = (tower: number, chunk: number) => ({
    training: true,
    dropoutSeed: deriveSeed(seed, tower, chunk),
  });

  // 1. Embeddings without a tape: each chunk's activations are freed before the next chunk runs.
  const [qEmb, pEmb] = towers.map(({ encoder, parts, tower }) =>
    tf.tidy(() =>
      tf.concat(parts.map((texts, c) => tf.tidy(() => encoder.embed(texts, embedOptions(tower, c))))),
    ),
  ) as [tf.Tensor2D, tf.Tensor2D];

  // 2. Loss and its gradient w.r.t. the embeddings.
  let value: tf.Scalar;
  let embGrads: tf.Tensor[];
  const context = (() => {
    try {
      return prepared(loss, batch, miniBatchSize);
    } catch (error) {
      qEmb.dispose();
      pEmb.dispose();
      throw error;
    }
  })();
  try {
    ({ value, grads: embGrads } = tf.valueAndGrads((q: tf.Tensor, p: tf.Tensor) =>
      loss.lossFromEmbeddings(q as tf.Tensor2D, p as tf.Tensor2D, batch, context),
    )([qEmb, pEmb]));
  } finally {
    qEmb.dispose();
    pEmb.dispose();
    context?.dispose();
  }
  const lossValue = value.dataSync()[0];
  value.dispose();

  // 3. Re-embed chunk by chunk with a tape; d(sum(emb * g))/dθ is the chunk's share of dL/dθ.
  const acc = new Map<tf.Variable, tf.Tensor>();
  const vars = uniqueVariables(queryEncoder, passageEncoder);
  try {
    towers.forEach(({ encoder, parts, tower }, t) => {
      const own = new Set(encoder.trainableVariables());
      const towerVars = vars.filter((v) => own.has(v));
      const cached = embGrads[t];
      const dim = cached.shape[1] as number;
      let row = 0;
      parts.forEach((texts, c) => {
        const g = tf.slice(cached, [row, 0], [texts.length, dim]);
        row += texts.length;
        const { value: surrogate, grads } = tf.variableGrads(
          () => tf.sum(tf.mul(encoder.embed(texts, embedOptions(tower, c)), g)) as tf.Scalar,
          towerVars,
        );
        surrogate.dispose();
        g.dispose();
        for (const [variable, grad] of byVariable(towerVars, grads)) {
          const old = acc.get(variable);
          if (old === undefined) acc.set(variable, grad);
          else {
            acc.set(variable, tf.add(old, grad));
            old.dispose();
            grad.dispose();
          }
        }
      });
    });
  } catch (error) {
    for (const g of acc.values()) g.dispose();
    throw error;
  } finally {
    for (const g of embGrads) g.dispose();
  }
  return { loss: lossValue, grads: acc };
}

/**
 * {@link cachedGradients} when the loss has a `miniBatchSize`, else {@link plainGradients}: what every
 * loss's `computeGradients` runs.
 */
export function lossGradients(
  loss: EmbeddingLoss,
  queryEncoder: TrainableEncoder,
  passageEncoder: TrainableEncoder,
  batch: TrainingBatch,
  options: { dropoutSeed?: number } = {},
): GradientResult {
  return loss.miniBatchSize === undefined
    ? plainGradients(loss, queryEncoder, passageEncoder, batch, options)
    : cachedGradients(loss, queryEncoder, passageEncoder, batch, {
        miniBatchSize: loss.miniBatchSize,
        dropoutSeed: options.dropoutSeed,
      });
}
