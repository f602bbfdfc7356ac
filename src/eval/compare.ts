import { ArgumentError } from '../errors.js';
import type { RunComparison } from './significance.js';

/**
 * The comparison report: one table with a row per run and a column per measure, each cell the run's mean
 * with a marker and the corrected p-value where the run differs significantly from the baseline, as plain
 * text, Markdown or LaTeX; and the per-query differences behind it as TSV.
 */

/** Output formats of {@link formatComparison}. */
export type ComparisonFormat = 'text' | 'markdown' | 'latex';

/** Options of {@link formatComparison}. */
export interface ComparisonReportOptions {
  format?: ComparisonFormat;
  /** Decimals of the means; default 4 (as trec_eval). */
  digits?: number;
}

/** Marker of a significant difference from the baseline (after correction). */
export const SIGNIFICANCE_MARKER = '†';

function formatP(p: number): string {
  return p < 0.001 ? p.toExponential(1) : p.toFixed(3);
}

function latexEscape(text: string): string {
  return text.replace(/[\\&%$#_{}~^]/g, (c) =>
    c === '\\' ? '\\textbackslash{}' : c === '~' ? '\\textasciitilde{}' : c === '^' ? '\\^{}' : `\\${c}`,
  );
}

interface Cell {
  value: string;
  significant: boolean;
  p?: string;
  best: boolean;
}

/**
 * Render comparisons of the same runs on several measures (one {@link RunComparison} per measure, all
 * against one baseline) as a table: rows are runs in input order, the baseline marked, columns measures.
 * A run that differs significantly from the baseline after correction gets {@link SIGNIFICANCE_MARKER} and
 * the corrected p-value; the best mean of each column is bold in Markdown and LaTeX.
 *
 * @throws {ArgumentError} if the comparisons are empty, compare different runs, or were made without a
 *   baseline (all pairs), where one row marker per cell has no meaning.
 * @example
 * ```ts
 * const byMeasure = ['ndcg_cut.10', 'recall.100'].map((measure) =>
 *   compareRuns(qrels, runs, { measure, baseline: 'bm25', test: 'randomization', seed: 1 }),
 * );
 * console.log(formatComparison(byMeasure, { format: 'markdown' }));
 * ```
 */
export function formatComparison(
  comparisons: readonly RunComparison[],
  options: ComparisonReportOptions = {},
): string {
  if (comparisons.length === 0) throw new ArgumentError('comparisons', 'nothing to report');
  const format = options.format ?? 'text';
  const digits = options.digits ?? 4;
  const names = comparisons[0].runs.map((r) => r.name);
  const baselines = new Set(comparisons.flatMap((c) => c.pairs.map((p) => p.baseline)));
  if (baselines.size !== 1 || comparisons.some((c) => c.pairs.length !== names.length - 1)) {
    throw new ArgumentError(
      'comparisons',
      'the report needs comparisons against one baseline (set `baseline`)',
    );
  }
  const baseline = [...baselines][0];
  for (const c of comparisons) {
    if (c.runs.map((r) => r.name).join('\n') !== names.join('\n')) {
      throw new ArgumentError('comparisons', `comparison on ${c.measure} has other runs`);
    }
  }
  const cells: Cell[][] = names.map((name) =>
    comparisons.map((c) => {
      const run = c.runs.find((r) => r.name === name) as RunComparison['runs'][number];
      const pair = c.pairs.find((p) => p.run === name);
      const best = Math.max(...c.runs.map((r) => r.mean));
      return {
        value: run.mean.toFixed(digits),
        significant: pair?.significant === true,
        p: pair?.significant ? formatP(pair.pValueCorrected) : undefined,
        best: run.mean === best,
      };
    }),
  );
  const c0 = comparisons[0];
  const note =
    `${SIGNIFICANCE_MARKER} differs from ${baseline} at p < ${c0.alpha} (${c0.test}, ${c0.correction} ` +
    `correction over ${c0.pairs.length} comparison${c0.pairs.length === 1 ? '' : 's'} per measure; ` +
    `${c0.queries.length} queries); corrected p-values in parentheses`;
  const rowName = (name: string): string => (name === baseline ? `${name} (baseline)` : name);

  if (format === 'latex') {
    const header = ['Run', ...comparisons.map((c) => latexEscape(c.measure))].join(' & ');
    const rows = names.map((name, i) => {
      const values = cells[i].map((cell) => {
        const v = cell.best ? `\\textbf{${cell.value}}` : cell.value;
        return cell.significant ? `${v}$^{\\dagger}$ {\\scriptsize(${cell.p})}` : v;
      });
      return `${[latexEscape(rowName(name)), ...values].join(' & ')} \\\\`;
    });
    return [
      `\\begin{tabular}{l${'r'.repeat(comparisons.length)}}`,
      '\\toprule',
      `${header} \\\\`,
      '\\midrule',
      ...rows,
      '\\bottomrule',
      '\\end{tabular}',
      `% ${note.replace(SIGNIFICANCE_MARKER, '\\dagger')}`,
      '',
    ].join('\n');
  }
  const text = (cell: Cell, bold: boolean): string => {
    const v = bold && cell.best ? `**${cell.value}**` : cell.value;
    return cell.significant ? `${v}${SIGNIFICANCE_MARKER} (${cell.p})` : v;
  };
  if (format === 'markdown') {
    const header = `| run | ${comparisons.map((c) => c.measure).join(' | ')} |`;
    const rule = `| --- | ${comparisons.map(() => '---:').join(' | ')} |`;
    const rows = names.map(
      (name, i) => `| ${rowName(name)} | ${cells[i].map((c) => text(c, true)).join(' | ')} |`,
    );
    return [header, rule, ...rows, '', note, ''].join('\n');
  }
  if (format !== 'text')
    throw new ArgumentError('format', `unknown format '${String(format)}'; use text, markdown or latex`);
  const table = [
    ['run', ...comparisons.map((c) => c.measure)],
    ...names.map((n, i) => [rowName(n), ...cells[i].map((c) => text(c, false))]),
  ];
  const widths = table[0].map((_, j) => Math.max(...table.map((row) => [...row[j]].length)));
  const lines = table.map((row) =>
    row
      .map((v, j) => (j === 0 ? v.padEnd(widths[j]) : v.padStart(widths[j])))
      .join('  ')
      .trimEnd(),
  );
  return [...lines, '', note, ''].join('\n');
}

/**
 * Per-query differences behind a comparison, as TSV: `measure qid baseline run baseline_score run_score
 * difference`, one line per compared pair and query, queries in trec_eval order.
 *
 * @example
 * ```ts
 * await writeFileAtomic('diffs.tsv', formatPerQueryDifferences(byMeasure));
 * ```
 */
export function formatPerQueryDifferences(comparisons: readonly RunComparison[]): string {
  const lines = ['measure\tqid\tbaseline\trun\tbaseline_score\trun_score\tdifference'];
  for (const c of comparisons) {
    const scores = new Map(c.runs.map((r) => [r.name, r.perQuery]));
    for (const pair of c.pairs) {
      const b = scores.get(pair.baseline) as number[];
      const r = scores.get(pair.run) as number[];
      c.queries.forEach((qid, i) => {
        lines.push([c.measure, qid, pair.baseline, pair.run, b[i], r[i], r[i] - b[i]].join('\t'));
      });
    }
  }
  return lines.join('\n') + '\n';
}
