import { statSync } from 'node:fs';
import { readNpy } from '../../data/npy.js';
import {
  readIdLines,
  readVectorIds,
  readVectorsMeta,
  vectorSidecarPaths,
} from '../../data/vector-sidecar.js';
import { writeRun } from '../../data/run.js';
import { InputFormatError } from '../../errors.js';
import { ExactIndex } from '../../index/exact.js';
import { HnswIndex, defaultEfSearch } from '../../index/hnsw.js';
import { BinaryIndex } from '../../index/binary.js';
import { Int8Index } from '../../index/int8.js';
import { loadVectorIndex } from '../../index/load.js';
import { PgvectorIndex } from '../../index/pgvector.js';
import { searchResultToRun } from '../../index/result-run.js';
import { optionalInt, optionalString, requireFile, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';

/** `dense-retrieval index search`: search a saved index with a .npy of query vectors, write a TREC run. */
export const indexSearchCommand: Command = {
  name: 'index search',
  summary: 'search a saved index with query vectors (.npy) and write a TREC run',
  help: `Usage: dense-retrieval index search --index PATH --queries Q.npy --k N --output RUN [options]

Search the index built by 'dense-retrieval index build' with every row of Q.npy and write the top N
documents per query as a TREC run (qid Q0 docid rank score tag). Row i of Q.npy is the query whose id
is on line i+1 of Q.ids.txt, which 'encode' writes next to Q.npy for a .jsonl input with ids.

Options:
  --index PATH         index file (exact, hnsw, int8 or binary), or a pgvector reference (required)
  --queries Q.npy      query vectors, [m, dim] (required)
  --k N                documents per query (required; at most the index size)
  --ef N               HNSW query beam for this search (default: the one stored with the index, or
                       for an index built without --ef-search the beam for its size; raised to --k when
                       smaller; printed). Raise it if recall against exact search is low.
  --filter-ids FILE    only return documents whose id is listed in FILE (one per line); k results still
                       come back when k listed documents exist
  --rescore-multiplier N  int8/binary: candidates per result rescored with the float query (default: the
                       one stored with the index; higher = recall closer to float search, slower)
  --output RUN         where to write the run (required)
  --query-ids FILE     one query id per line for the rows of Q.npy (default: Q.ids.txt)
  --row-numbers        number the queries 0, 1, ... instead (only when Q.npy has no ids)
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
    'filter-ids': { type: 'string' },
    'rescore-multiplier': { type: 'string' },
    'row-numbers': { type: 'boolean' },
    tag: { type: 'string' },
    database: { type: 'string' },
  },
  async run(values) {
    const indexFile = requireFile(values, 'index');
    if (statSync(indexFile).isDirectory()) {
      throw new UsageError(
        `--index: ${indexFile} is a directory, not an index file (give the file 'index build --out' wrote)`,
      );
    }
    const queriesFile = requireFile(values, 'queries');
    const k = optionalInt(values, 'k', 1);
    if (k === undefined) throw new UsageError('missing required option --k');
    const ef = optionalInt(values, 'ef', 1);
    const rescoreMultiplier = optionalInt(values, 'rescore-multiplier', 1);
    const filterFile = optionalString(values, 'filter-ids');
    if (filterFile !== undefined) requireFile(values, 'filter-ids');
    const output = requireString(values, 'output');
    const queryIdsFile = optionalString(values, 'query-ids');
    if (queryIdsFile !== undefined) requireFile(values, 'query-ids');
    const rowNumbers = values['row-numbers'] === true;
    if (rowNumbers && queryIdsFile !== undefined) {
      throw new UsageError('--query-ids and --row-numbers exclude each other');
    }
    const queries = await readNpy(queriesFile);
    const meta = await readVectorsMeta(queriesFile, queries);
    let queryIds: string[];
    if (queryIdsFile !== undefined) {
      queryIds = await readIdLines(queryIdsFile);
    } else {
      const sidecar = await readVectorIds(queriesFile, queries, meta);
      const sidecarFile = vectorSidecarPaths(queriesFile).ids;
      if (sidecar !== undefined && rowNumbers) {
        throw new UsageError(`--row-numbers: ${sidecarFile} holds the queries' ids; drop --row-numbers`);
      }
      if (sidecar === undefined && !rowNumbers) {
        // Numbering queries 0..n-1 silently scores a run against the wrong judgments.
        throw new UsageError(
          `no query ids for ${queriesFile}: ${sidecarFile} does not exist ('encode' writes it for a ` +
            '.jsonl input with "_id" fields); give --query-ids FILE, or --row-numbers to number the ' +
            'queries 0, 1, ...',
        );
      }
      queryIds = sidecar ?? Array.from({ length: queries.rows }, (_, i) => String(i));
    }
    if (queryIds.length !== queries.rows) {
      throw new InputFormatError(
        `has ${queryIds.length} query ids but ${queriesFile} has ${queries.rows} rows`,
        queryIdsFile,
      );
    }
    const index = await loadVectorIndex(indexFile, { database: optionalString(values, 'database') });
    let result;
    try {
      if (meta?.tower === 'passage') {
        process.stderr.write(
          `dense-retrieval: warning: ${queriesFile} was encoded with the passage tower; queries belong to the query tower\n`,
        );
      }
      const queryMetric = meta?.metric ?? undefined;
      const alike = meta?.normalized === true && index.metric !== 'l2' && queryMetric !== 'l2';
      if (queryMetric !== undefined && queryMetric !== index.metric && !alike) {
        process.stderr.write(
          `dense-retrieval: warning: the index uses ${index.metric} but the queries' model was trained ` +
            `with ${meta!.similarity} (metric ${queryMetric}, from ${vectorSidecarPaths(queriesFile).meta})\n`,
        );
      }
      if (ef !== undefined && !(index instanceof HnswIndex || index instanceof PgvectorIndex)) {
        throw new UsageError('--ef applies to hnsw and pgvector indexes only');
      }
      if (rescoreMultiplier !== undefined && !(index instanceof Int8Index || index instanceof BinaryIndex)) {
        throw new UsageError('--rescore-multiplier applies to int8 and binary indexes only');
      }
      if (filterFile !== undefined && index instanceof PgvectorIndex) {
        // pgvector filters in SQL, not with a JS predicate: PgvectorIndex refuses one.
        throw new UsageError('--filter-ids applies to exact, hnsw, int8 and binary indexes only');
      }
      if (index instanceof ExactIndex || index instanceof Int8Index) {
        // Exact and int8 search run their products on the tfjs backend: initialise it here (only for these
        // kinds, so an HNSW or pgvector search does not pay for it), or tfjs would pick its slow cpu backend.
        const { initBackend } = await import('../../backend/index.js');
        const backend = typeof values.backend === 'string' ? values.backend : undefined;
        await initBackend({ backend: backend as never });
      }
      let filter: ((id: string) => boolean) | undefined;
      if (filterFile !== undefined) {
        const allowed = new Set(await readIdLines(filterFile));
        filter = (id) => allowed.has(id);
        // An id list from another corpus (or another id column) matches nothing: the run would be empty
        // (or short) with only the usual summary line to show for it.
        if (!(index instanceof PgvectorIndex)) {
          let present = 0;
          for (const id of index.documentIds) if (allowed.has(id)) present++;
          if (present < Math.min(k, allowed.size)) {
            process.stderr.write(
              `dense-retrieval: warning: ${present} of the ${allowed.size} ids in --filter-ids ${filterFile} are in the index` +
                (present === 0
                  ? ': every query gets an empty result list'
                  : `: each query gets at most ${present} results, not ${k}`) +
                '\n',
            );
          }
        }
      }
      // Only the options given: each index kind accepts its own (an unknown key is an error).
      result = await index.search(queries, k, {
        ...(ef === undefined ? {} : { ef }),
        ...(filter === undefined ? {} : { filter }),
        ...(rescoreMultiplier === undefined ? {} : { rescoreMultiplier }),
      });
    } finally {
      if (index instanceof PgvectorIndex) await index.close();
    }
    const tag =
      optionalString(values, 'tag') ??
      (index instanceof HnswIndex
        ? 'hnsw'
        : index instanceof Int8Index
          ? 'int8'
          : index instanceof BinaryIndex
            ? 'binary'
            : index instanceof PgvectorIndex
              ? 'pgvector'
              : 'exact');
    await writeRun(output, searchResultToRun(result, queryIds), { tag });
    // The beam that ran (the size default is computed per search, so it is shown rather than implied).
    const beam =
      index instanceof HnswIndex
        ? ef !== undefined
          ? ` (hnsw ef ${Math.max(k, ef)})`
          : index.efSearchIsDefault
            ? ` (hnsw ef ${defaultEfSearch(index.size, k, index.M)}, the default for ${index.size} vectors)`
            : ` (hnsw ef ${Math.max(k, index.efSearch)}, stored with the index)`
        : '';
    process.stderr.write(`dense-retrieval: ${queries.rows} queries x top ${k}${beam} -> ${output}\n`);
  },
};
