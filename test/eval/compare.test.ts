import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatComparison, formatPerQueryDifferences } from '../../src/eval/compare.js';
import type { RunComparison } from '../../src/eval/significance.js';

function comparison(measure: string, means: number[], p: number[], significant: boolean[]): RunComparison {
  const names = ['bm25', 'dense', 'hybrid'];
  return {
    measure,
    test: 'paired-t',
    correction: 'holm',
    alpha: 0.05,
    queries: ['q1', 'q2'],
    runs: names.map((name, i) => ({ name, mean: means[i], perQuery: [means[i], means[i]] })),
    pairs: [1, 2].map((i) => ({
      baseline: 'bm25',
      run: names[i],
      meanDifference: means[i] - means[0],
      ci95: [0, 0] as [number, number],
      statistic: 1,
      pValue: p[i - 1] / 2,
      pValueCorrected: p[i - 1],
      significant: significant[i - 1],
    })),
  };
}

const table = [
  comparison('ndcg_cut_10', [0.5, 0.61234, 0.7], [0.0004, 0.2], [true, false]),
  comparison('recall_100', [0.9, 0.8, 0.95], [0.03, 0.01], [true, true]),
];

test('text table: rows runs, columns measures, † and corrected p only where significant', () => {
  const lines = formatComparison(table).split('\n');
  assert.deepEqual(lines[0].split(/\s{2,}/), ['run', 'ndcg_cut_10', 'recall_100']);
  assert.deepEqual(lines[1].split(/\s{2,}/), ['bm25 (baseline)', '0.5000', '0.9000']);
  assert.deepEqual(lines[2].split(/\s{2,}/), ['dense', '0.6123† (4.0e-4)', '0.8000† (0.030)']);
  assert.deepEqual(lines[3].split(/\s{2,}/), ['hybrid', '0.7000', '0.9500† (0.010)']);
  assert.match(
    lines[5],
    /^† differs from bm25 at p < 0\.05 \(paired-t, holm correction over 2 comparisons per measure; 2 queries\)/,
  );
});

test('Markdown bolds the best value per column; LaTeX escapes names and marks with a dagger', () => {
  const md = formatComparison(table, { format: 'markdown' }).split('\n');
  assert.equal(md[0], '| run | ndcg_cut_10 | recall_100 |');
  assert.equal(md[4], '| hybrid | **0.7000** | **0.9500**† (0.010) |');
  const tex = formatComparison(table, { format: 'latex', digits: 2 });
  assert.match(tex, /Run & ndcg\\_cut\\_10 & recall\\_100 \\\\/);
  assert.match(tex, /dense & 0\.61\$\^\{\\dagger\}\$ \{\\scriptsize\(4\.0e-4\)\} & 0\.80\$\^\{\\dagger\}\$/);
  assert.match(tex, /hybrid & \\textbf\{0\.70\} & \\textbf\{0\.95\}\$\^\{\\dagger\}\$/);
});

test('per-query TSV and the errors of a report without one baseline', () => {
  const tsv = formatPerQueryDifferences([table[0]]).trimEnd().split('\n');
  assert.equal(tsv.length, 1 + 2 * 2);
  assert.equal(tsv[1], ['ndcg_cut_10', 'q1', 'bm25', 'dense', 0.5, 0.61234, 0.61234 - 0.5].join('\t'));
  const allPairs = {
    ...table[0],
    pairs: [...table[0].pairs, { ...table[0].pairs[0], baseline: 'dense', run: 'hybrid' }],
  };
  assert.throws(() => formatComparison([allPairs]), /needs comparisons against one baseline/);
  assert.throws(() => formatComparison([]), /nothing to report/);
});
