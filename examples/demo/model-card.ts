/**
 * The trained model's card: written into `model/README.md` with `writeModelCard` (Hugging Face format, as
 * `dense-retrieval train` writes it), and its front matter and evaluation table quoted in the report.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeModelCard } from '../../src/index.js';
import type { StudyResult } from './study.js';

/** Write the card of the model saved in `modelDir` from what the study did; returns the card's text. */
export async function writeDemoModelCard(modelDir: string, result: StudyResult): Promise<string> {
  const m = result.model;
  const t = result.training;
  const exact = result.rows.find((r) => r.key === 'exact');
  const dataset = path.basename(result.data.dir);
  const { file } = await writeModelCard(modelDir, {
    modelName: `dense-retrieval-demo-${dataset}`,
    baseModel: m.fromScratch ? undefined : m.source,
    datasets: [dataset],
    trainingExamples: t.examples,
    loss: t.loss,
    hyperparameters: {
      batch_size: t.batchSize,
      steps: t.steps,
      learning_rate: t.lr,
      warmup_steps: t.warmupSteps,
      lr_scheduler: 'warmup-cosine',
      optimizer: 'AdamW (weight decay 0.01)',
      max_grad_norm: 1,
      seed: t.seed,
      hard_negatives: `${t.negativesPerExample} per query, BM25 ranks ${t.miningRange[0] + 1}-${t.miningRange[1]}`,
    },
    evaluation:
      exact === undefined
        ? undefined
        : {
            dataset,
            split: 'test',
            metrics: { ndcg_cut_10: exact.ndcg10, recall_100: exact.recall100 },
            step: t.steps,
          },
  });
  return fs.readFile(file, 'utf8');
}

/** The report's section: the card's front matter and its evaluation table, quoted from `model/README.md`. */
export function modelCardSection(card: string): string[] {
  const front = /^---\n([\s\S]*?)\n---\n/.exec(card)?.[1] ?? '';
  // The first table after the heading: the metrics of the saved weights.
  const after = card.slice(card.indexOf('#### Information Retrieval')).split('\n');
  const first = after.findIndex((l) => l.startsWith('|'));
  const end = after.findIndex((l, i) => i > first && !l.startsWith('|'));
  const tableLines = first < 0 ? [] : after.slice(first, end < 0 ? undefined : end);
  return [
    '## Model card',
    '',
    'The trained model carries a model card, `model/README.md`, in the Hugging Face format (as ' +
      '`dense-retrieval train` writes it): its front matter and evaluation table read',
    '',
    '```yaml',
    front,
    '```',
    '',
    ...tableLines,
    '',
    'The card goes on with the module tree read from the saved files, how to load the model in Python ' +
      '(sentence-transformers) and here, the loss and hyperparameters.',
    '',
  ];
}
