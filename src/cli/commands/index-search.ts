import { readNpy } from '../../data/npy.js';
import { writeRun } from '../../data/run.js';
import { InputFormatError } from '../../errors.js';
import { ExactIndex } from '../../index/exact.js';
import { HnswIndex } from '../../index/hnsw.js';
import { loadVectorIndex } from '../../index/load.js';
import { PgvectorIndex } from '../../index/pgvector.js';
import { searchResultToRun } from '../../index/result-run.js';
import { optionalInt, optionalString, requireFile, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { readIdLines } from './index-build.js';

/** `dense-retrieval index search`: search a saved index with a .npy of query vectors, write a TREC run. */
export const indexSearchCommand: Command = {
  name: 'index search',
  summary: 'search a saved index with query vectors (.npy) and write a TREC run',
  help: `Usage: dense-retrieval index search --index PATH --queries Q.npy --k N --output RUN [options]

Search the index built by 'dense-retrieval index build' with every row of Q.npy and write the top N
documents per query as a TREC run (qid Q0 docid rank score tag).

Options:
  --index PATH         index file (exact or hnsw), or a pgvector reference (required)
  --queries Q.npy      query vectors, [m, dim] (required)
  --k N                documents per query (required; at most the index size)
  --ef N               HNSW query beam for this search (default: the one stored with the index;
                       raised to N when smaller). Raise it if recall against exact search is low.
  --output RUN         where to write the run (required)
  --query-ids FILE     one query id per line for the rows of Q.npy (default: row numbers 0, 1, ...)
  --tag TAG            run tag (default: the index type)
  --database URL       pgvector on a server: the URL with its password (the reference stores none;
                       PGPASSWORD works too)
  -h, --help           show this help
`,
  options: {
    index: { type: 'string' },
    queries: { type: 'string' },
    k: { type: 'string' },
    ef: { type: 'string' },
    output: { type: 'string' },
    'query-ids': { type: 'string' },
    tag: { type: 'string' },
    database: { type: 'string' },
  },
  async run(values) {
    const indexFile = requireFile(values, 'index');
    const queriesFile = requireFile(values, 'queries');
    const k = optionalInt(values, 'k', 1);
    if (k === undefined) throw new UsageError('missing required option --k');
    const ef = optionalInt(values, 'ef', 1);
    const output = requireString(values, 'output');
    const queryIdsFile = optionalString(values, 'query-ids');
    if (queryIdsFile !== undefined) requireFile(values, 'query-ids');
    const queries = await readNpy(queriesFile);
    const queryIds =
      queryIdsFile === undefined
        ? Array.from({ length: queries.rows }, (_, i) => String(i))
        : await readIdLines(queryIdsFile);
    if (queryIds.length !== queries.rows) {
      throw new InputFormatError(
        `has ${queryIds.length} query ids but ${queriesFile} has ${queries.rows} rows`,
        queryIdsFile,
      );
    }
    const index = await loadVectorIndex(indexFile, { database: optionalString(values, 'database') });
    let result;
    try {
      if (ef !== undefined && index instanceof ExactIndex) {
        throw new UsageError('--ef applies to hnsw and pgvector indexes only');
      }
      if (index instanceof ExactIndex) {
        // Exact search runs its products on the tfjs backend: initialise it here (only for this kind, so an
        // HNSW or pgvector search does not pay for loading tfjs), or tfjs would pick its slow cpu backend.
        const { initBackend } = await import('../../backend/index.js');
        const backend = typeof values.backend === 'string' ? values.backend : undefined;
        await initBackend({ backend: backend as never });
      }
      result = await index.search(queries, k, { ef });
    } finally {
      if (index instanceof PgvectorIndex) await index.close();
    }
    const tag =
      optionalString(values, 'tag') ??
      (index instanceof HnswIndex ? 'hnsw' : index instanceof PgvectorIndex ? 'pgvector' : 'exact');
    await writeRun(output, searchResultToRun(result, queryIds), { tag });
    process.stderr.write(`dense-retrieval: ${queries.rows} queries x top ${k} -> ${output}\n`);
  },
};
