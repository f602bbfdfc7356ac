import { existsSync } from 'node:fs';
import { loadBeir } from '../../data/beir.js';
import { Bm25Index } from '../../index/bm25.js';
import { loadRetrievalModel } from '../../models/load-retrieval-model.js';
import { mineHardNegativesToJsonl } from '../../train/hard-negatives-jsonl.js';
import type { MiningReport } from '../../train/hard-negatives-jsonl.js';
import {
  bm25MiningRetriever,
  chooseMiningIndex,
  denseMiningRetriever,
} from '../../train/mining-retriever.js';
import { optionalChoice, optionalFloat, optionalInt, optionalString, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';

/** `dense-retrieval mine`: hard negatives for a BEIR split's queries, as JSONL training data. */
export const mineCommand: Command = {
  name: 'mine',
  summary: 'mine hard negatives for a BEIR split with a model or BM25 into JSONL training data',
  help: `Usage: dense-retrieval mine (--model SRC | --bm25) --data BEIR_DIR --out FILE [options]

Mine hard negatives for every query of a BEIR split with a judged positive (grade >= 1), as
sentence-transformers' mine_hard_negatives does, and write one JSONL line per (query, positive):
  {"query": ..., "positive": ..., "negatives": [...], "scores": {"positive": s, "negatives": [...]}}
(with --ids: "query_id", "positive_id", "negative_ids"), the format 'train --train-file' reads; the
scores (the retriever's: the model's similarity or BM25) feed distillation losses.

Candidates are ranks --range-min..--range-max-1 of the retriever's ranking, where the query's judged
positives (and repeated texts) take no rank. Filters, against the query's lowest positive score p:
--absolute-margin m drops a candidate scoring above p - m, --relative-margin r one scoring above
p * (1 - r), --max-score / --min-score bound the score. --sampling top takes the best --num-negatives
of the rest, random a seeded draw. Queries with fewer negatives are left out unless --keep-incomplete.

A model embeds the corpus with its passage tower and the queries with its query tower (with the
model's "document" and "query" prompts), in its own similarity, and searches an exact index or HNSW
(ef >= the depth). --index auto picks the faster for the corpus and the number of queries: each query
is searched once, so building the graph pays off only from about 10 000 queries over 50 000+ documents.

Options:
  --model SRC             model directory, hub id or scratch:<config.json> (or --bm25)
  --bm25                  mine with BM25 (k1 0.9, b 0.4) instead of a model
  --data BEIR_DIR         BEIR dataset directory (corpus.jsonl, queries.jsonl, qrels/) (required)
  --split NAME            qrels split whose queries are mined (default train)
  --out FILE              output JSONL file (required; an existing file needs --overwrite)
  --overwrite             replace an existing --out file
  --ids                   write ids (query_id, positive_id, negative_ids) instead of texts
  --range-min N           first candidate rank, 0-based (default 0)
  --range-max N           rank where candidates end (default range-min + num-negatives, or
                          range-min + 10 x num-negatives when a score filter is set, as sentence-transformers)
  --num-negatives N       negatives per query (default 3)
  --absolute-margin X     keep negatives scoring at most (lowest positive score - X)
  --relative-margin X     keep negatives scoring at most (lowest positive score * (1 - X)), e.g. 0.05
  --max-score X           keep negatives scoring at most X
  --min-score X           keep negatives scoring at least X (a negative X as --min-score=-0.5)
  --sampling top|random   best eligible candidates, or a seeded random draw of them (default top)
  --seed N                seed of --sampling random and of a scratch: model (default 42)
  --keep-incomplete       also write queries that got fewer than --num-negatives negatives
  --index exact|hnsw|auto vector index of a model (default auto, see above)
  --ef N                  HNSW query beam (default max(64, 2 x depth); never below the depth)
  --batch-size N          texts per forward pass (default 32)
  --max-length N          truncate texts to N tokens (default: the model's max_seq_length)
  --query-prompt TEXT     prepend TEXT to queries (default: the model's "query" prompt)
  --document-prompt TEXT  prepend TEXT to passages (default: the model's "document" prompt)
  --quiet                 no progress bars
  -h, --help              show this help
`,
  options: {
    model: { type: 'string' },
    bm25: { type: 'boolean' },
    data: { type: 'string' },
    split: { type: 'string' },
    out: { type: 'string' },
    overwrite: { type: 'boolean' },
    ids: { type: 'boolean' },
    'range-min': { type: 'string' },
    'range-max': { type: 'string' },
    'num-negatives': { type: 'string' },
    'absolute-margin': { type: 'string' },
    'relative-margin': { type: 'string' },
    'max-score': { type: 'string' },
    'min-score': { type: 'string' },
    sampling: { type: 'string' },
    seed: { type: 'string' },
    'keep-incomplete': { type: 'boolean' },
    index: { type: 'string' },
    ef: { type: 'string' },
    'batch-size': { type: 'string' },
    'max-length': { type: 'string' },
    'query-prompt': { type: 'string' },
    'document-prompt': { type: 'string' },
    quiet: { type: 'boolean' },
  },
  needsBackend: true,
  async run(values) {
    const modelSource = optionalString(values, 'model');
    const bm25 = values.bm25 === true;
    if (bm25 === (modelSource !== undefined)) throw new UsageError('give either --model SRC or --bm25');
    const data = requireString(values, 'data');
    const out = requireString(values, 'out');
    if (existsSync(out) && values.overwrite !== true) {
      throw new UsageError(`--out ${out} already exists; add --overwrite to replace it`);
    }
    const rangeMin = optionalInt(values, 'range-min', 0);
    const rangeMax = optionalInt(values, 'range-max', 1);
    if (rangeMax !== undefined && rangeMax <= (rangeMin ?? 0)) {
      throw new UsageError(`--range-max must be > --range-min (${rangeMin ?? 0}), got ${rangeMax}`);
    }
    const numNegatives = optionalInt(values, 'num-negatives', 1);
    const sampling = optionalChoice(values, 'sampling', ['top', 'random'] as const);
    const seed = optionalInt(values, 'seed', 0) ?? 42;
    const index = optionalChoice(values, 'index', ['exact', 'hnsw', 'auto'] as const);
    const ef = optionalInt(values, 'ef', 1);
    const batchSize = optionalInt(values, 'batch-size', 1);
    const maxLength = optionalInt(values, 'max-length', 3);
    const queryPrompt = optionalString(values, 'query-prompt');
    const documentPrompt = optionalString(values, 'document-prompt');
    if (bm25) {
      const modelOnly = ['index', 'ef', 'batch-size', 'max-length', 'query-prompt', 'document-prompt'];
      const given = modelOnly.filter((f) => values[f] !== undefined);
      if (given.length > 0) throw new UsageError(`--${given[0]} applies to --model only, not --bm25`);
    }
    if (ef !== undefined && index === 'exact') {
      throw new UsageError('--ef applies to the HNSW index only');
    }
    const filters = {
      absoluteMargin: optionalFloat(values, 'absolute-margin'),
      relativeMargin: optionalFloat(values, 'relative-margin'),
      maxScore: optionalFloat(values, 'max-score'),
      minScore: optionalFloat(values, 'min-score'),
    };
    const quiet = values.quiet === true;
    const say = (m: string) => process.stderr.write(`dense-retrieval: ${m}\n`);

    // Data first: a bad dataset should fail before a model is loaded.
    const { corpus, queries, qrels } = await loadBeir(data, {
      split: optionalString(values, 'split') ?? 'train',
    });
    const common = {
      queries,
      corpus,
      qrels,
      rangeMin,
      rangeMax,
      numNegatives,
      sampling,
      seed,
      ...filters,
      quiet,
      out,
      form: values.ids === true ? ('ids' as const) : ('text' as const),
      keepIncomplete: values['keep-incomplete'] === true,
    };
    let report: MiningReport;
    if (bm25) {
      const index = new Bm25Index();
      index.addDocuments(corpus);
      report = await mineHardNegativesToJsonl({ ...common, ...bm25MiningRetriever(index) });
    } else {
      const model = await loadRetrievalModel(modelSource!, { maxSeqLength: maxLength, seed, quiet });
      try {
        const judged = [...qrels.values()].filter((docs) => [...docs.values()].some((g) => g >= 1));
        const kind =
          index === 'exact' || index === 'hnsw' ? index : chooseMiningIndex(corpus.length, judged.length);
        const retriever = await denseMiningRetriever(model, corpus, {
          index: kind,
          ef,
          batchSize,
          queryPrompt,
          documentPrompt,
          quiet,
        });
        say(
          `${kind} index (${corpus.length} documents, ${judged.length} queries), similarity ${model.similarity}`,
        );
        report = await mineHardNegativesToJsonl({ ...common, ...retriever });
      } finally {
        model.dispose();
      }
    }
    process.stdout.write(formatReport(report, out, numNegatives ?? 3) + '\n');
  },
};

/** The run's totals, as sentence-transformers prints them after mining. */
function formatReport(r: MiningReport, out: string, numNegatives: number): string {
  const lines = [
    `mined ${r.negatives} negatives for ${r.queries} queries; wrote ${r.lines} lines to ${out}` +
      (r.scored ? ' (with scores)' : ''),
  ];
  for (const [name, skipped] of Object.entries(r.skipped)) {
    if (skipped > 0) {
      const ratio = ((100 * skipped) / Math.max(1, r.candidates)).toFixed(2);
      lines.push(`skipped ${skipped} of ${r.candidates} candidates (${ratio}%) by ${name}`);
    }
  }
  if (r.short > 0) {
    lines.push(
      `${r.short} queries got fewer than ${numNegatives} negatives` +
        (r.dropped > 0 ? `; their ${r.dropped} lines were left out (--keep-incomplete keeps them)` : '') +
        '; a wider --range-max or looser filters find more',
    );
  }
  return lines.join('\n');
}
