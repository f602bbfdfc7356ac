import { ArgumentError } from '../../errors.js';
import { readQrels } from '../../data/qrels.js';
import { readRun } from '../../data/run.js';
import {
  SUPPORTED_MEASURES,
  formatMeasureLine,
  inTrecOrder,
  parseMeasures,
  printsPerQuery,
} from '../../eval/measures.js';
import type { MeasureSpec } from '../../eval/measures.js';
import { compareIds, evaluateRun } from '../../eval/metrics.js';
import { requireFile } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';

const DEFAULT_MEASURES = 'ndcg_cut.10,map,recip_rank,P.10,recall.100';

/** `dense-retrieval evaluate`: trec_eval-compatible scoring of a run file against qrels. */
export const evaluateCommand: Command = {
  name: 'evaluate',
  summary: 'score a TREC run against qrels with trec_eval measures',
  help: `Usage: dense-retrieval evaluate --qrels FILE --run FILE [options]

Score a TREC run (qid Q0 docid rank score tag) against qrels (TREC 'qid 0 docid grade' or BEIR TSV),
with trec_eval's semantics: documents ranked by score, ties by document id descending; the mean is over
queries present in both files. Prints trec_eval-style lines '<measure>\\tall\\t<value>', in trec_eval's
measure order whatever the order of -m.

Options:
  --qrels FILE              relevance judgements (required)
  --run FILE                run to score (required)
  -m, --measures LIST       trec_eval measure names, comma separated, repeatable
                            (default ${DEFAULT_MEASURES});
                            supported: ${SUPPORTED_MEASURES}
  -q, --per-query           also print one line per query and measure (as trec_eval -q)
  -c, --complete            average over all qrels queries, missing ones count 0 (as trec_eval -c)
  --ignore-identical-ids    drop retrieved documents whose id equals the query id (BEIR)
  -h, --help                show this help
`,
  options: {
    qrels: { type: 'string' },
    run: { type: 'string' },
    measures: { type: 'string', short: 'm', multiple: true },
    'per-query': { type: 'boolean', short: 'q' },
    complete: { type: 'boolean', short: 'c' },
    'ignore-identical-ids': { type: 'boolean' },
  },
  async run(values) {
    const qrelsFile = requireFile(values, 'qrels');
    const runFile = requireFile(values, 'run');
    const given = values.measures;
    const measures = Array.isArray(given) && given.length > 0 ? given.map(String) : [DEFAULT_MEASURES];
    let specs: MeasureSpec[];
    try {
      specs = inTrecOrder(parseMeasures(measures));
    } catch (error) {
      if (error instanceof ArgumentError) throw new UsageError(`--${error.message}`);
      throw error;
    }
    const qrels = await readQrels(qrelsFile);
    const run = await readRun(runFile);
    const result = evaluateRun(qrels, run, measures, {
      complete: values.complete === true,
      ignoreIdenticalIds: values['ignore-identical-ids'] === true,
    });
    const lines: string[] = [];
    if (values['per-query'] === true) {
      // With -c, trec_eval -q also prints the judged queries the run lacks.
      const all = new Map([...result.perQuery, ...(result.perQueryMissing ?? [])]);
      for (const qid of [...all.keys()].sort(compareIds)) {
        const perQuery = all.get(qid) as Record<string, number>;
        for (const spec of specs) {
          if (printsPerQuery(spec.family)) lines.push(formatMeasureLine(spec, qid, perQuery[spec.key]));
        }
      }
    }
    for (const spec of specs) lines.push(formatMeasureLine(spec, 'all', result.mean[spec.key]));
    process.stdout.write(lines.join('\n') + '\n');
  },
};
