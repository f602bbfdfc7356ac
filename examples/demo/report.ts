/**
 * Turns a {@link StudyResult} into the console table (the student's shape), `report.md` and its SVG plots.
 * Only formats: every number comes from the result of the run.
 */
import path from 'node:path';
import { linePlot } from '../lib/svg-plot.js';
import { modelCardSection } from './model-card.js';
import { RECALL_TARGET, RESCORE } from './study.js';
import type { MethodRow, StudyResult } from './study.js';

/** Metrics are shown x100 with two decimals, as the student (and the BEIR paper) reported them. */
const pct = (v: number | undefined): string => (v === undefined ? '-' : (100 * v).toFixed(2));
const secs = (s: number): string => (s >= 90 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(1)} s`);

function columns(result: StudyResult): string[] {
  return [
    'method',
    'nDCG@10',
    'MRR@10',
    'R@100',
    'recall@10 vs exact',
    'bytes/vector',
    `nDCG@10, unseen-positive queries (n=${result.overlap.unseenQueries})`,
    'p vs BM25 (nDCG@10)',
  ];
}

/** Holm-corrected p-value of the paired t-test against BM25, † when below 0.05; BM25 is the baseline. */
function vsBm25(row: MethodRow): string {
  if (row.vsBm25 === undefined) return row.key === 'bm25' ? 'baseline' : '-';
  const p = row.vsBm25.pValue < 0.001 ? '<0.001' : row.vsBm25.pValue.toFixed(3);
  return row.vsBm25.significant ? `${p} †` : p;
}

function cells(row: MethodRow): string[] {
  return [
    row.name,
    pct(row.ndcg10),
    pct(row.mrr10),
    pct(row.recall100),
    pct(row.recallVsExact),
    row.bytesPerVector === undefined ? '-' : String(row.bytesPerVector),
    pct(row.ndcg10Unseen),
    vsBm25(row),
  ];
}

/** The results as a fixed-width text table for the terminal. */
export function formatConsoleTable(result: StudyResult): string {
  const head = columns(result);
  head[6] = `nDCG@10 unseen (n=${result.overlap.unseenQueries})`;
  const body = result.rows.map(cells);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]): string =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function markdownTable(head: string[], rows: string[][], align?: string[]): string {
  const sep = align ?? head.map((_, i) => (i === 0 ? '---' : '---:'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** The SVG plots of the report, by file name. */
export function reportPlots(result: StudyResult): Record<string, string> {
  const h = result.training.history;
  // A 10-step moving average shows the trend through the noise of single batches.
  const window = Math.max(1, Math.min(10, Math.floor(h.length / 5)));
  const smooth = h.map((p, i): [number, number] => {
    const part = h.slice(Math.max(0, i - window + 1), i + 1);
    return [p.step, part.reduce((s, q) => s + q.loss, 0) / part.length];
  });
  const sweep = result.hnsw.sweep;
  return {
    'loss.svg': linePlot(
      [
        { name: 'loss', points: h.map((p) => [p.step, p.loss]), color: '#9ecae1' },
        { name: `mean of ${window}`, points: smooth, color: '#1f77b4' },
      ],
      { title: 'Training loss (Matryoshka in-batch + BM25 hard negatives)', xLabel: 'step', yLabel: 'loss' },
    ),
    'lr.svg': linePlot([{ name: 'learning rate', points: h.map((p) => [p.step, p.lr]) }], {
      title: `Learning rate: warmup ${result.training.warmupSteps} steps, then cosine`,
      xLabel: 'step',
      yLabel: 'learning rate',
    }),
    'recall-qps.svg': linePlot(
      [
        {
          name: 'HNSW',
          points: sweep.map((p) => [p.qps, p.recall10]),
          labels: sweep.map((p) => `ef=${p.ef}`),
        },
        { name: 'exact', points: [[result.hnsw.exactQps, 1]], color: '#d62728' },
      ],
      {
        title: `Recall@10 vs exact against speed (HNSW M=${result.hnsw.M}, efConstruction=${result.hnsw.efConstruction})`,
        xLabel: 'queries per second (top 10, log scale)',
        yLabel: 'recall@10 vs exact',
        markers: true,
        logX: true,
      },
    ),
  };
}

/** Whether the unseen-positive queries are harder in themselves: BM25 learned nothing from the train split. */
function bm25Comparison(bm25: MethodRow | undefined): string {
  if (bm25?.ndcg10Unseen === undefined) return '';
  const scores =
    `BM25, which learns nothing from the train split, scores ${pct(bm25.ndcg10)} on all queries and ` +
    `${pct(bm25.ndcg10Unseen)} on the unseen-positive ones`;
  // Under 2 nDCG points is well within the sampling noise of a ~100-query subset (standard error ~4 points).
  return Math.abs(bm25.ndcg10 - bm25.ndcg10Unseen) < 0.02
    ? `${scores}: those queries are not harder in themselves, so the trained model's gap is what memorised ` +
        'documents are worth. '
    : `${scores}, so part of the trained model's gap is that these queries are harder, and part is memorisation. `;
}

/** What the HNSW rows cost against exact search, in words, from the measured numbers. */
function hnswNotes(result: StudyResult): string {
  const exact = result.rows.find((r) => r.key === 'exact');
  const hnsw = result.rows.filter((r) => r.key.startsWith('hnsw'));
  if (exact === undefined || hnsw.length === 0) return '';
  const delta = (r: MethodRow): string => {
    const d = 100 * (r.ndcg10 - exact.ndcg10);
    return `${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(2)}`;
  };
  const parts = [
    'nDCG@10 against exact search: ' +
      hnsw.map((r) => `${r.name.replace(/^trained, HNSW /, '')} ${delta(r)}`).join(', ') +
      '. HNSW only misses documents that exact search ranks in its top 10; a miss costs nDCG when the missed ' +
      'document was relevant, and the document that takes its place is occasionally relevant too, so small ' +
      'changes either way are noise. Read recall@10 vs exact first: when nDCG drops under an approximate index, ' +
      'raise ef until that recall is ~0.99 before blaming the model.',
  ];
  const atDefault = result.hnsw.sweep.find((p) => p.ef === result.hnsw.defaultEf);
  if (atDefault !== undefined && atDefault.qps < result.hnsw.exactQps) {
    parts.push(
      `At the default ef=${result.hnsw.defaultEf}, HNSW is slower than exact search here ` +
        `(${atDefault.qps.toFixed(0)} vs ${result.hnsw.exactQps.toFixed(0)} QPS): on ` +
        `${result.data.documents.toLocaleString('en')} documents exhaustive search is the better index.`,
    );
  }
  return parts.join(' ');
}

/** The Matryoshka rows in words: what each truncation keeps of the full width's nDCG@10, for what memory. */
function matryoshkaNote(result: StudyResult): string[] {
  const exact = result.rows.find((r) => r.key === 'exact');
  const cut = result.rows.filter((r) => r.key === 'matryoshka');
  if (exact === undefined || cut.length === 0) return [];
  const full = result.training.matryoshkaDims[0];
  const kept = cut.map((r) => {
    const dim = (r.bytesPerVector ?? 0) / 4;
    return `${dim} dims (${((100 * dim) / full).toFixed(0)}% of the bytes) keep ${pct(r.ndcg10)} of ${pct(exact.ndcg10)} nDCG@10`;
  });
  return [
    '',
    `The Matryoshka rows search the first dimensions of the same embeddings, re-normalised (\`truncateDim\`): ${kept.join(', ')}.`,
  ];
}

/** `report.md`: setup, results table, the overlap note, the ef sweep, plots and timings. */
export function renderReport(result: StudyResult, command: string, modelCard?: string): string {
  const m = result.model;
  const t = result.training;
  const o = result.overlap;
  const hist = t.history;
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const k = Math.max(1, Math.min(20, Math.floor(hist.length / 4)));
  const firstLoss = mean(hist.slice(0, k).map((p) => p.loss));
  const lastLoss = mean(hist.slice(-k).map((p) => p.loss));
  const trainSeconds = result.timings.find((p) => p.phase === 'train')?.seconds ?? Number.NaN;
  const row = (key: MethodRow['key']): MethodRow | undefined => result.rows.find((r) => r.key === key);
  const exact = row('exact');
  const untrained = row('untrained');
  const tuned = result.hnsw.tunedEf;

  const isSciFact = path.basename(result.data.dir).toLowerCase() === 'scifact';
  const dataset = isSciFact ? 'SciFact' : path.basename(result.data.dir);
  const lines: string[] = [];
  lines.push(
    `# Dense retrieval demo: fine-tuning a bi-encoder on ${dataset}${result.quick ? ' (--quick)' : ''}`,
    '',
  );
  if (result.quick) {
    lines.push(
      '> **--quick run**: a subset of the corpus and queries and a few training steps, to check that the demo',
      '> works. These numbers say nothing about the method; run `npm run demo` for the real study.',
      '',
    );
  }
  lines.push(
    `Produced by \`${command}\` on ${new Date().toISOString().slice(0, 10)}. Every number below was computed in this run.`,
    '',
    '## Setup',
    '',
    `- Backend: **${result.backend}** (TensorFlow.js), total run time ${secs(result.totalSeconds)}.`,
    `- Data: ${result.data.documents.toLocaleString('en')} documents, ${result.data.trainQueries} train queries, ` +
      `${result.data.testQueries} test queries from \`${result.data.dir}\`${isSciFact ? ' (BEIR SciFact, CC BY-NC 2.0)' : ''}; its SOURCE.md gives origin and licence.`,
    `- Model: \`${m.source}\`${m.fromScratch ? ' (random initialisation, bundled bert-base-uncased tokenizer)' : ''}: ` +
      `BERT ${m.layers} layers, hidden ${m.hiddenSize}, ${m.heads} heads, FFN ${m.intermediateSize}, ` +
      `vocab ${m.vocabSize}, ${(m.parameters / 1e6).toFixed(2)} M parameters; ${m.pooling} pooling, ` +
      `max ${m.maxSeqLength} tokens, tied towers, ${m.similarity} similarity.`,
    `- Training: ${t.steps} steps x batch ${t.batchSize} on ${t.examples} (query, positive, hard negative) ` +
      `triples (${((t.steps * t.batchSize) / Math.max(1, t.examples)).toFixed(1)} epochs), in-batch negatives ` +
      `(cosine x ${m.scale}) plus ${t.negativesPerExample} BM25 hard negative per query (BM25 ranks ` +
      `${t.miningRange[0] + 1}-${t.miningRange[1]}, never a judged positive of the query: ` +
      `${t.judgedPositivesAmongNegatives} were), summed over the Matryoshka prefixes ` +
      `${t.matryoshkaDims.join('/')} (MatryoshkaLoss: one model serves the full and the truncated rows), ` +
      `AdamW (weight decay 0.01), warmup-cosine learning rate ` +
      `(peak ${t.lr}, ${t.warmupSteps} warmup steps), gradient clipping at norm 1, seed ${t.seed}` +
      `${t.droppedExamples > 0 ? `; ${t.droppedExamples} pairs dropped (no negative in range)` : ''}.`,
    `- Training time ${secs(trainSeconds)}; loss ${firstLoss.toFixed(3)} (mean of the first ${k} steps) -> ` +
      `${lastLoss.toFixed(3)} (mean of the last ${k}).`,
    '',
    '## Results (test split, x100)',
    '',
    markdownTable(columns(result), result.rows.map(cells)),
    '',
    'nDCG@10 and Recall@100 as trec_eval (`ndcg_cut.10`, `recall.100`), MRR@10 as `recip_rank` over the top 10; ' +
      'recall@10 vs exact is the share of the exact top 10 that HNSW (or the int8 / binary index) also returns; ' +
      'bytes/vector is what the index holds per document (float32, int8 codes, or sign bits; ids and the HNSW ' +
      'graph not counted). The int8 row scans int8 codes of per-dimension ranges (faiss SQ8 scoring), the binary ' +
      'row sign bits by Hamming distance (sentence-transformers ubinary); both rescore ' +
      `${RESCORE} x 10 candidates with the float query. HNSW rows take nDCG@10 and ` +
      'MRR@10 from a top-10 search at that ef; Recall@100 needs a top-100 search, for which hnswlib raises ef to ' +
      'at least 100. The hybrid fuses the top 100 of each run. The last column is the paired t-test of each ' +
      "row's per-query nDCG@10 against BM25's, Holm-corrected over the rows; † marks p < 0.05.",
    ...matryoshkaNote(result),
    '',
    '## How much of this is generalisation?',
    '',
    `${dataset}'s splits share one corpus: **${o.alsoTrainPositives} of the ${o.testPositives} test positives ` +
      `(${pct(o.alsoTrainPositives / Math.max(1, o.testPositives))}%) are also train positives**, so a model ` +
      'trained on the train split has seen many of the documents it is asked to find, and a small model trained ' +
      `to a low loss memorises them. Only ${o.unseenQueries} of the ${result.data.testQueries} test queries have ` +
      'no positive among the train positives; the last column scores those alone.',
  );
  if (exact && untrained && exact.ndcg10Unseen !== undefined && untrained.ndcg10Unseen !== undefined) {
    lines.push(
      '',
      `On all test queries fine-tuning took nDCG@10 from ${pct(untrained.ndcg10)} to ${pct(exact.ndcg10)}; ` +
        `on the unseen-positive queries from ${pct(untrained.ndcg10Unseen)} to ${pct(exact.ndcg10Unseen)}. ` +
        bm25Comparison(row('bm25')) +
        'Judge what the model learned by the second number.',
    );
  }
  lines.push(
    '',
    '## Exhaustive vs approximate search',
    '',
    `HNSW (hnswlib, M=${result.hnsw.M}, efConstruction=${result.hnsw.efConstruction}) over the trained ` +
      `embeddings, swept over ef; QPS is single-threaded top-10 search of the ${result.data.testQueries} test ` +
      `queries (best of two passes on a shared machine, so read it as relative). Exact search: ` +
      `${result.hnsw.exactQps.toFixed(0)} QPS.`,
    '',
    markdownTable(
      ['ef', 'recall@10 vs exact', 'QPS'],
      result.hnsw.sweep.map((p) => [
        p.ef === tuned ? `**${p.ef}**` : String(p.ef),
        p.recall10.toFixed(3),
        p.qps.toFixed(0),
      ]),
      ['---:', '---:', '---:'],
    ),
    '',
    tuned === undefined
      ? `No swept ef reached recall@10 >= ${RECALL_TARGET}; raise M or efConstruction.`
      : `The smallest ef reaching recall@10 >= ${RECALL_TARGET} is **${tuned}** (library default ` +
          `${result.hnsw.defaultEf}).`,
    '',
    hnswNotes(result),
    '',
    '![recall vs QPS](recall-qps.svg)',
    '',
    '## Training curves',
    '',
    '![loss](loss.svg)',
    '',
    '![learning rate](lr.svg)',
    '',
    '## Timing',
    '',
    markdownTable(
      ['phase', 'seconds'],
      result.timings.map((p) => [p.phase, p.seconds.toFixed(1)]),
    ),
    '',
    `Tensors alive before loading the model: ${result.tensors.before}; after disposing it: ${result.tensors.after}.`,
    '',
    'The trained model is in `model/` (a sentence-transformers directory); `train_log.jsonl` has every step.',
    '',
  );
  if (modelCard !== undefined) lines.push(...modelCardSection(modelCard));
  return lines.join('\n');
}
