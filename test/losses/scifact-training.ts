import * as tf from '@tensorflow/tfjs';
import { loadBeir } from '../../src/data/beir.js';
import { Bm25Index } from '../../src/index/bm25.js';
import type { TrainableEncoder } from '../../src/losses/types.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { Trainer } from '../../src/train/trainer.js';
import { examplesFromQrels } from '../../src/train/examples.js';
import type { TrainingExample } from '../../src/train/examples.js';
import type { RetrievalLoss } from '../../src/losses/types.js';
import { SCIFACT_DIR } from '../helpers/data.js';
import { ToyEncoder } from './toy-encoder.js';

let cached: Promise<TrainingExample[]> | undefined;

/**
 * Real training data: the first `n` SciFact training queries (one positive each) with their 2 best BM25
 * hits that are not judged relevant as hard negatives, and BM25 as the teacher: `positiveScore` /
 * `negativeScores` are the BM25 scores of the positive and the negatives over the whole corpus (what a
 * cross-encoder's scores would be in a real distillation run).
 */
export function scifactExamples(n = 48): Promise<TrainingExample[]> {
  cached ??= (async () => {
    const { corpus, queries, qrels } = await loadBeir(SCIFACT_DIR, { split: 'train' });
    const seen = new Set<string>();
    const pairs = examplesFromQrels({ queries, corpus, qrels })
      .filter((e) => !seen.has(e.queryId!) && seen.add(e.queryId!))
      .slice(0, n);
    const byId = new Map(corpus.map((d) => [d.id, d] as const));
    const bm25 = new Bm25Index();
    bm25.addDocuments(corpus);
    const { ids, scores } = bm25.search(
      pairs.map((e) => e.query),
      bm25.size,
    );
    return pairs.map((e, i) => {
      const score = new Map(ids[i].map((id, r) => [id, scores[i][r]] as const));
      const judged = qrels.get(e.queryId!)!;
      const negIds = ids[i].filter((id) => !judged.has(id)).slice(0, 2);
      const doc = (id: string) => {
        const d = byId.get(id)!;
        return d.title ? `${d.title} ${d.text}` : d.text;
      };
      return {
        ...e,
        negatives: negIds.map(doc),
        negativeIds: negIds,
        positiveScore: score.get(e.positiveId!) ?? 0,
        negativeScores: negIds.map((id) => score.get(id)!),
      };
    });
  })();
  return cached;
}

/** A frozen lexical guide: the hashed bag of words of a toy encoder, without any learned layer. */
export class LexicalGuide {
  private readonly words = new ToyEncoder({ vocab: 512, seed: 99 });
  embed(texts: string[]): tf.Tensor2D {
    return (this.words as unknown as { counts(t: string[]): tf.Tensor2D }).counts(texts);
  }
  dispose(): void {
    this.words.dispose();
  }
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Train a toy encoder (hashed bag of words -> MLP, as the trainer tests use) on the SciFact examples with
 * `loss`; returns the mean loss of the first and of the last 8 steps and the tensor counts per step.
 */
export async function trainOnScifact(
  loss: RetrievalLoss,
  options: { similarity?: 'dot' | 'cosine'; steps?: number; lr?: number } = {},
): Promise<{ first: number; last: number; counts: number[] }> {
  const examples = await scifactExamples();
  const enc: TrainableEncoder & { dispose(): void } = new ToyEncoder({
    vocab: 512,
    embed: 32,
    hidden: 64,
    dim: 16,
    seed: 5,
  });
  const model = BiEncoder.tied(enc, { similarity: options.similarity ?? 'dot' });
  const counts: number[] = [];
  const trainer = new Trainer({
    model,
    loss,
    batchSize: 8,
    steps: options.steps ?? 40,
    lr: options.lr ?? 0.01,
    warmupSteps: 2,
    quiet: true,
    onStep: () => {
      counts.push(tf.memory().numTensors);
    },
  });
  const { losses } = await trainer.train(examples);
  trainer.dispose();
  enc.dispose();
  return { first: mean(losses.slice(0, 8)), last: mean(losses.slice(-8)), counts };
}
