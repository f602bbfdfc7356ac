/** Pairs our rows with the reference rows of the same run, and prints them as a table. */
import type { Row } from './common.js';

/** The throughput field of a row, by benchmark name. */
export function metricOf(name: string): 'pairsPerSec' | 'textsPerSec' | 'tokensPerSec' | 'qps' | 'seconds' {
  if (name === 'train-step') return 'pairsPerSec';
  if (name === 'cli-startup' || name === 'evaluate-model') return 'seconds';
  if (name === 'encode') return 'textsPerSec';
  if (name === 'encode-architectures') return 'tokensPerSec';
  return 'qps';
}

function matches(ours: Row, ref: Row): boolean {
  if (ours.name !== ref.name) return false;
  // faiss's scalar quantizer has one row (it scores float queries against decoded codes already).
  if (ref.rescoreMultiplier !== undefined) return ours.rescoreMultiplier === ref.rescoreMultiplier;
  return ours.name !== 'index-hnsw' || ours.ef === ref.ef;
}

/**
 * Recall@10 counts as equal when ours is at most this much below the reference's: one hit in a thousand,
 * the resolution of 100 queries x 10 (tie order among equal scores differs between implementations).
 */
export const EQUAL_RECALL_TOLERANCE = 0.001;

/**
 * Add `referenceBackend`, `reference` (its throughput), `referenceRecallAt10` for indexes, and `ratio`
 * (ours / reference, > 1 means we are faster) to each of our rows that has a counterpart. Quantized rows
 * (a `rescoreMultiplier`) also get `equalRecall`: whether their recall reaches the reference's (within
 * {@link EQUAL_RECALL_TOLERANCE}). A reference without a multiplier (faiss's scalar quantizer, one
 * operating point) is compared with every multiplier of ours, and `matchedRecall` marks the smallest
 * multiplier that reaches its recall (or, if none does, our best recall): the comparison at equal recall.
 */
export function attachReference(ours: Row[], reference: Row[]): void {
  for (const ref of reference) {
    if (ref.rescoreMultiplier !== undefined || typeof ref.recallAt10 !== 'number') continue;
    const mine = ours
      .filter((r) => r.name === ref.name && typeof r.rescoreMultiplier === 'number')
      .sort((a, b) => (a.rescoreMultiplier as number) - (b.rescoreMultiplier as number));
    if (mine.length === 0) continue;
    const want = ref.recallAt10 - EQUAL_RECALL_TOLERANCE;
    const hit =
      mine.find((r) => (r.recallAt10 as number) >= want) ??
      mine.reduce((a, b) => ((b.recallAt10 as number) > (a.recallAt10 as number) ? b : a));
    hit.matchedRecall = true;
  }
  for (const row of ours) {
    const ref = reference.find((r) => matches(row, r));
    if (ref === undefined) continue;
    const metric = metricOf(row.name);
    const mine = row[metric] as number;
    const theirs = ref[metric] as number;
    row.referenceBackend = ref.backend;
    row.reference = theirs;
    if (typeof ref.recallAt10 === 'number') row.referenceRecallAt10 = ref.recallAt10;
    row.ratio = mine / theirs;
    if (row.rescoreMultiplier !== undefined && typeof ref.recallAt10 === 'number') {
      row.equalRecall = (row.recallAt10 as number) >= ref.recallAt10 - EQUAL_RECALL_TOLERANCE;
    }
  }
}

function fmt(x: unknown, digits = 1): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '';
  if (Math.abs(x) >= 100) return x.toFixed(0);
  return x.toFixed(digits);
}

function config(row: Row): string {
  if (row.name === 'encode-architectures') {
    const base = `${row.layers}x${row.hidden}/${row.heads}h/${row.intermediate} seq ${row.seqLen} b ${row.batchSize}`;
    return `${base}, ${String(row.variant)}, ${fmt(row.timePerTokenVsBert, 2)}x BERT time/token`;
  }
  if (row.name === 'evaluate-model') {
    const speedup =
      typeof row.speedupVsTfjs === 'number' ? `, ${fmt(row.speedupVsTfjs, 2)}x faster than tfjs` : '';
    return `SciFact ${row.docs} docs ${row.queries} q, max ${row.maxLength}, nDCG@10 ${fmt(row.ndcgAt10, 4)}${speedup}`;
  }
  if (row.name === 'cli-startup') {
    const target = typeof row.targetSeconds === 'number' ? `, target < ${row.targetSeconds} s` : '';
    return `${String(row.command)}, median of ${String(row.runs)}${target}`;
  }
  if (row.name === 'train-step' || row.name === 'encode') {
    const base = `${row.layers}x${row.hidden}/${row.heads}h/${row.intermediate} seq ${row.seqLen} b ${row.batchSize}`;
    if (row.name === 'train-step') {
      const cached = typeof row.miniBatch === 'number' && row.miniBatch !== row.batchSize;
      const cache = cached ? `, grad cache ${row.miniBatch}` : '';
      return `${base}, ${row.steps} steps${cache}`;
    }
    const vsTjs =
      typeof row.vsTransformersJs === 'number' ? `, ${fmt(row.vsTransformersJs, 2)}x transformers.js` : '';
    return `${base}, ${row.texts}/${row.corpusTexts} texts, ${row.variant}${vsTjs}`;
  }
  const base = `${row.vectors}x${row.dim} ${String(row.data)}, ${row.queries} q`;
  if (row.rescoreMultiplier !== undefined) {
    return `${base}, rescore x${String(row.rescoreMultiplier)}, ${String(row.bytesPerVector)} B/vector`;
  }
  return row.name === 'index-hnsw' || row.name === 'index-pgvector'
    ? `${base}, M ${row.M} ef ${row.ef}`
    : base;
}

/** A plain-text table of our rows with their reference and ratio. */
export function formatTable(ours: Row[]): string {
  const header = [
    'benchmark',
    'backend',
    'config',
    'ours',
    'unit',
    'recall@10',
    'reference',
    'ref recall',
    'ratio',
  ];
  const lines = ours.map((r) => {
    const metric = metricOf(r.name);
    return [
      r.name,
      r.backend,
      config(r),
      fmt(r[metric], 2),
      {
        pairsPerSec: 'pairs/s',
        textsPerSec: 'texts/s',
        tokensPerSec: 'tokens/s',
        qps: 'QPS',
        seconds: 's',
      }[metric],
      r.name.startsWith('index') ? fmt(r.recallAt10, 3) : '',
      r.reference === undefined ? '-' : `${fmt(r.reference, 2)} ${String(r.referenceBackend)}`,
      r.name.startsWith('index') ? fmt(r.referenceRecallAt10, 3) : '',
      r.ratio === undefined
        ? '-'
        : `${fmt(r.ratio, 3)}x${r.equalRecall === true ? ' at equal recall' : r.equalRecall === false ? ' (lower recall)' : ''}${r.matchedRecall === true ? ' <- matched' : ''}`,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const render = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [render(header), render(widths.map((w) => '-'.repeat(w))), ...lines.map(render)].join('\n');
}
