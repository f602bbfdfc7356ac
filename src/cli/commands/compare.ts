import { existsSync } from 'node:fs';
import path from 'node:path';
import { readQrels } from '../../data/qrels.js';
import { readRun } from '../../data/run.js';
import { ArgumentError } from '../../errors.js';
import { formatComparison, formatPerQueryDifferences } from '../../eval/compare.js';
import { inTrecOrder, measureAggregation, parseMeasures } from '../../eval/measures.js';
import { compareRuns } from '../../eval/significance.js';
import type { Correction, RunComparison, SignificanceTest } from '../../eval/significance.js';
import type { Run } from '../../types.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { optionalChoice, optionalFloat, optionalInt, optionalString, requireFile } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';

const DEFAULT_MEASURES = 'ndcg_cut.10,recip_rank,recall.100';
const TESTS: readonly SignificanceTest[] = ['paired-t', 'randomization', 'wilcoxon'];
const CORRECTIONS: readonly Correction[] = ['holm', 'bonferroni', 'none'];

/** A run's name: NAME=FILE as given, else the file name without its extension. */
function runName(spec: string): { name: string; file: string } {
  const eq = spec.indexOf('=');
  if (eq > 0 && !existsSync(spec)) return { name: spec.slice(0, eq), file: spec.slice(eq + 1) };
  return { name: path.basename(spec).replace(/\.[^.]*$/, ''), file: spec };
}

/** `dense-retrieval compare`: a significance-marked comparison table of several runs. */
export const compareCommand: Command = {
  name: 'compare',
  summary: 'compare TREC runs on trec_eval measures with paired significance tests',
  help: `Usage: dense-retrieval compare --qrels FILE --run A --run B [--run ...] [options]

Score every run on each measure (trec_eval semantics) over the queries all runs share, test each run
against the baseline with a paired test, correct the p-values over the runs compared, and print a table:
rows runs, columns measures, '†' and the corrected p-value where a run differs significantly.

Options:
  --qrels FILE          relevance judgements (required)
  --run [NAME=]FILE     a TREC run (repeat, at least two); named after its file unless NAME= is given
  -m, --measures LIST   trec_eval measure names, comma separated, repeatable (default ${DEFAULT_MEASURES});
                        counts such as num_rel are left out (all_trec gives every other trec_eval measure)
  --baseline NAME       the run the others are tested against (default the first run)
  --test NAME           ${TESTS.join('|')} (default paired-t)
  --correction NAME     ${CORRECTIONS.join('|')} (default holm), over the runs compared, per measure
  --alpha X             significance level (default 0.05)
  --permutations N      randomization test rounds (default 10000)
  --seed N              randomization test seed (default 0)
  -c, --complete        all qrels queries, a run missing one scores 0 on it (trec_eval -c)
  --markdown FILE       also write the table as Markdown
  --latex FILE          also write the table as a LaTeX tabular (booktabs)
  --per-query FILE      also write per-query scores and differences (TSV)
  -h, --help            show this help
`,
  options: {
    qrels: { type: 'string' },
    run: { type: 'string', multiple: true },
    measures: { type: 'string', short: 'm', multiple: true },
    baseline: { type: 'string' },
    test: { type: 'string' },
    correction: { type: 'string' },
    alpha: { type: 'string' },
    permutations: { type: 'string' },
    seed: { type: 'string' },
    complete: { type: 'boolean', short: 'c' },
    markdown: { type: 'string' },
    latex: { type: 'string' },
    'per-query': { type: 'string' },
  },
  async run(values) {
    const qrelsFile = requireFile(values, 'qrels');
    const specs = (Array.isArray(values.run) ? values.run : []).map((v) => runName(String(v)));
    if (specs.length < 2) throw new UsageError('--run: give at least two runs to compare');
    for (const { file } of specs) if (!existsSync(file)) throw new UsageError(`--run: no such file: ${file}`);
    const names = specs.map((s) => s.name);
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate !== undefined) {
      throw new UsageError(`--run: two runs are named '${duplicate}'; name them with NAME=FILE`);
    }
    const baseline = optionalString(values, 'baseline') ?? names[0];
    if (!names.includes(baseline)) {
      throw new UsageError(`--baseline: '${baseline}' is not a run name (${names.join(', ')})`);
    }
    const test = optionalChoice(values, 'test', TESTS) ?? 'paired-t';
    const correction = optionalChoice(values, 'correction', CORRECTIONS) ?? 'holm';
    const alpha = optionalFloat(values, 'alpha');
    const permutations = optionalInt(values, 'permutations', 1);
    const seed = optionalInt(values, 'seed', 0);
    const given = values.measures;
    const measureArgs = Array.isArray(given) && given.length > 0 ? given.map(String) : [DEFAULT_MEASURES];
    let measures: string[];
    try {
      // Counts (num_q, num_rel, ...; part of all_trec) are sums over queries, not per-query scores to test.
      const specs = inTrecOrder(parseMeasures(measureArgs)).filter(
        (s) => measureAggregation(s.family) !== 'sum',
      );
      if (specs.length === 0) throw new UsageError('--measures: only counts given; name a per-query measure');
      measures = specs.map((s) => s.key);
    } catch (error) {
      if (error instanceof ArgumentError) throw new UsageError(`--${error.message}`);
      throw error;
    }
    const qrels = await readQrels(qrelsFile);
    const runs = new Map<string, Run>();
    for (const { name, file } of specs) runs.set(name, await readRun(file));
    let comparisons: RunComparison[];
    try {
      comparisons = measures.map((measure) =>
        compareRuns(qrels, runs, {
          measure,
          test,
          correction,
          alpha,
          permutations,
          seed,
          baseline,
          complete: values.complete === true,
        }),
      );
    } catch (error) {
      if (error instanceof ArgumentError && /^(measure|alpha):/.test(error.message)) {
        throw new UsageError(`--${error.message.replace(/^measure:/, 'measures:')}`);
      }
      throw error;
    }
    process.stdout.write(formatComparison(comparisons, { format: 'text' }));
    const markdown = optionalString(values, 'markdown');
    if (markdown !== undefined)
      await writeFileAtomic(markdown, formatComparison(comparisons, { format: 'markdown' }));
    const latex = optionalString(values, 'latex');
    if (latex !== undefined) await writeFileAtomic(latex, formatComparison(comparisons, { format: 'latex' }));
    const perQuery = optionalString(values, 'per-query');
    if (perQuery !== undefined) await writeFileAtomic(perQuery, formatPerQueryDifferences(comparisons));
  },
};
