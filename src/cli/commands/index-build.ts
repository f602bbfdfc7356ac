import { readLines } from '../../data/lines.js';
import { readNpy, readNpyBlocks, readNpyInfo } from '../../data/npy.js';
import type { Metric } from '../../index/types.js';
import { InputFormatError } from '../../errors.js';
import { ExactIndex } from '../../index/exact.js';
import { HNSW_DEFAULTS, HnswIndex } from '../../index/hnsw.js';
import { PgvectorIndex } from '../../index/pgvector.js';
import type { VectorIndex } from '../../index/types.js';
import { createProgress } from '../../util/progress.js';
import {
  optionalChoice,
  optionalInt,
  optionalString,
  parseMipsTransform,
  requireFile,
  requireString,
} from '../args.js';
import type { Command, OptionValues } from '../command.js';
import { UsageError } from '../errors.js';
import { RECALL_WARNING } from '../../eval/retrieval-evaluator.js';
import type { Matrix } from '../../types.js';
import { recallOfResults } from '../../index/recall.js';

/**
 * Ids of a text file, one per line (surrounding whitespace trimmed); blank or duplicate ids and ids with
 * inner whitespace are errors naming the line.
 */
export async function readIdLines(file: string): Promise<string[]> {
  const ids: string[] = [];
  const seen = new Map<string, number>();
  // The shared line reader refuses invalid UTF-8 (which would otherwise merge ids into U+FFFD).
  for await (const { text, line } of readLines(file, { keepBlank: true })) {
    const id = text.trim();
    if (id === '') throw new InputFormatError('empty id', file, line);
    // A TREC run separates columns by whitespace: such an id would fail every later search and evaluation.
    if (/\s/.test(id)) {
      throw new InputFormatError(`id ${JSON.stringify(id)} contains whitespace`, file, line);
    }
    const first = seen.get(id);
    if (first !== undefined)
      throw new InputFormatError(`duplicate id '${id}' (first on line ${first})`, file, line);
    seen.set(id, line);
    ids.push(id);
  }
  if (ids.length === 0) throw new InputFormatError('no ids', file);
  return ids;
}

/** `dense-retrieval index build`: build an exact or HNSW index from a .npy matrix and an id file. */
export const indexBuildCommand: Command = {
  name: 'index build',
  summary: 'build an exact, HNSW or pgvector index from a .npy matrix and its ids',
  help: `Usage: dense-retrieval index build --vectors X.npy --ids IDS.txt --type exact|hnsw|pgvector --out PATH [options]

Build a vector index over the rows of X.npy (float32 or float64, [n, dim]); row i gets the id on line
i+1 of IDS.txt. An exact or HNSW index is written atomically to one versioned file. A pgvector index
loads the vectors into PostgreSQL (COPY in batches), builds pgvector's index there, and writes PATH as a
small JSON reference (engine, table, parameters; never a password) that 'index search' reopens.

Options:
  --vectors X.npy          document vectors (required)
  --ids IDS.txt            one document id per line, as many as rows (required)
  --type exact|hnsw|pgvector
                           exhaustive search, approximate HNSW (hnswlib), or PostgreSQL + pgvector (required)
  --metric ip|cosine|l2    similarity (default ip: dot product, as DPR; use the one the model was trained with)
  --M N                    HNSW links per node (default ${HNSW_DEFAULTS.M}; higher = better recall, more memory)
  --ef-construction N      HNSW build beam (default ${HNSW_DEFAULTS.efConstruction}; higher = better graph, slower build)
  --ef-search N            HNSW default query beam stored with the index (default ${HNSW_DEFAULTS.efSearch})
  --mips-transform auto|on|off
                           HNSW graph for --metric ip: on = MIPS-to-L2 reduction, off = hnswlib's ip
                           space, auto (default) = by the norm spread of the vectors (docs/index-tuning.md).
                           After the build, recall@10 at --ef-search is measured on sampled documents used
                           as queries, with a warning below ${RECALL_WARNING}
  --out PATH               where to write the index, or the pgvector reference (required)

pgvector options (embedded PGlite by default; a server with --database):
  --table NAME             table to create and fill (required; must not hold rows already)
  --database URL           postgres://user:password@host:port/db of a server with pgvector >= 0.5
  --data-dir DIR           embedded database directory (default PATH.pgdata)
  --pg-index hnsw|ivfflat|none
                           pgvector index method (default hnsw; none = exact scans only)
  --M N, --ef-construction N, --ef-search N
                           pgvector HNSW m (default 16), ef_construction (64), hnsw.ef_search (40)
  --lists N                IVFFlat lists (default rows/1000)
  --halfvec                store float16 halfvec (half the space) instead of float32 vector
  --quiet                  no progress bar
  -h, --help               show this help
`,
  options: {
    vectors: { type: 'string' },
    ids: { type: 'string' },
    type: { type: 'string' },
    metric: { type: 'string' },
    M: { type: 'string' },
    'ef-construction': { type: 'string' },
    'ef-search': { type: 'string' },
    'mips-transform': { type: 'string' },
    out: { type: 'string' },
    table: { type: 'string' },
    database: { type: 'string' },
    'data-dir': { type: 'string' },
    'pg-index': { type: 'string' },
    lists: { type: 'string' },
    halfvec: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run(values) {
    const vectorsFile = requireFile(values, 'vectors');
    const idsFile = requireFile(values, 'ids');
    const type = optionalChoice(values, 'type', ['exact', 'hnsw', 'pgvector'] as const);
    if (type === undefined) throw new UsageError('missing required option --type (exact|hnsw|pgvector)');
    const metric = optionalChoice(values, 'metric', ['ip', 'cosine', 'l2'] as const) ?? 'ip';
    const M = optionalInt(values, 'M', 2);
    const efConstruction = optionalInt(values, 'ef-construction', 1);
    const efSearch = optionalInt(values, 'ef-search', 1);
    const out = requireString(values, 'out');
    const mipsTransform = parseMipsTransform(values);
    if (type === 'exact' && (M !== undefined || efConstruction !== undefined || efSearch !== undefined)) {
      throw new UsageError('--M, --ef-construction and --ef-search apply to --type hnsw and pgvector only');
    }
    if (mipsTransform !== undefined && type !== 'hnsw') {
      throw new UsageError('--mips-transform applies to --type hnsw only');
    }
    if (mipsTransform !== undefined && metric !== 'ip') {
      throw new UsageError('--mips-transform applies to --metric ip only');
    }
    const pgFlags = ['table', 'database', 'data-dir', 'pg-index', 'lists', 'halfvec'].filter(
      (f) => values[f] !== undefined,
    );
    if (type !== 'pgvector' && pgFlags.length > 0) {
      throw new UsageError(`--${pgFlags[0]} applies to --type pgvector only`);
    }
    // The vectors are streamed in blocks: the .npy is never held whole beside the index it fills.
    const info = await readNpyInfo(vectorsFile);
    const ids = await readIdLines(idsFile);
    if (ids.length !== info.rows) {
      throw new InputFormatError(`has ${ids.length} ids but ${vectorsFile} has ${info.rows} rows`, idsFile);
    }
    const quiet = values.quiet === true;
    if (type === 'pgvector') {
      await buildPgvector(values, {
        vectorsFile,
        dim: info.cols,
        ids,
        metric,
        M,
        efConstruction,
        efSearch,
        out,
        quiet,
      });
      return;
    }
    const index: VectorIndex =
      type === 'exact'
        ? new ExactIndex({ dim: info.cols, metric, capacity: info.rows })
        : new HnswIndex({
            dim: info.cols,
            metric,
            M,
            efConstruction,
            efSearch,
            mipsTransform,
            capacity: info.rows,
          });
    const progress = createProgress({ total: info.rows, label: `${type} build`, unit: 'vectors', quiet });
    const step = type === 'exact' ? 65536 : 1000;
    for await (const { start, matrix } of readNpyBlocks(vectorsFile, step)) {
      await index.add(matrix, ids.slice(start, start + matrix.rows));
      progress.tick(matrix.rows);
    }
    progress.done();
    await index.save(out);
    const graph =
      index instanceof HnswIndex && metric === 'ip'
        ? `, graph: ${index.mipsTransform ? 'MIPS-to-L2 reduction' : "hnswlib's ip space"}`
        : '';
    process.stderr.write(
      `dense-retrieval: ${type} index of ${index.size} x ${index.dim} (${metric}${graph}) -> ${out}\n`,
    );
    if (index instanceof HnswIndex) {
      const probe = await probeRecall(index, vectorsFile, info, ids);
      if (probe === undefined) {
        process.stderr.write('dense-retrieval: recall not measured (index too large for a quick check)\n');
      } else if (probe.recall < RECALL_WARNING) {
        const other =
          metric === 'ip'
            ? `, or the other graph (--mips-transform ${index.mipsTransform ? 'off' : 'on'})`
            : '';
        process.stderr.write(
          `dense-retrieval: warning: recall@10 vs exact search is ${probe.recall.toFixed(3)} at ef ${index.efSearch} ` +
            `(${probe.queries} documents as queries; < ${RECALL_WARNING}): raise --ef-search${other}\n`,
        );
      }
    }
  },
};

/** Load the vectors into a new pgvector table, build its index, write the reference file. */
async function buildPgvector(
  values: OptionValues,
  o: {
    vectorsFile: string;
    dim: number;
    ids: string[];
    metric: Metric;
    M?: number;
    efConstruction?: number;
    efSearch?: number;
    out: string;
    quiet: boolean;
  },
): Promise<void> {
  const table = optionalString(values, 'table');
  if (table === undefined) throw new UsageError('missing required option --table (with --type pgvector)');
  const database = optionalString(values, 'database');
  const dataDir = optionalString(values, 'data-dir');
  if (database !== undefined && dataDir !== undefined) {
    throw new UsageError('give either --database (a server) or --data-dir (embedded), not both');
  }
  const method = optionalChoice(values, 'pg-index', ['hnsw', 'ivfflat', 'none'] as const) ?? 'hnsw';
  const index = await PgvectorIndex.open({
    dim: o.dim,
    table,
    metric: o.metric,
    method,
    type: values.halfvec === true ? 'halfvec' : 'vector',
    m: o.M,
    efConstruction: o.efConstruction,
    efSearch: o.efSearch,
    lists: optionalInt(values, 'lists', 1),
    quiet: o.quiet,
    ...(database !== undefined ? { database } : { dataDir: dataDir ?? `${o.out}.pgdata` }),
  });
  try {
    if (index.size > 0) {
      throw new UsageError(
        `table ${table} in ${index.location} already holds ${index.size} vectors: choose another --table (nothing was changed)`,
      );
    }
    for await (const { start, matrix } of readNpyBlocks(o.vectorsFile, 65536)) {
      await index.add(matrix, o.ids.slice(start, start + matrix.rows));
    }
    await index.createIndex();
    await index.save(o.out);
    process.stderr.write(
      `dense-retrieval: pgvector ${method} index of ${index.size} x ${index.dim} (${o.metric}) in table ${table}, ${index.location} -> ${o.out}\n`,
    );
  } finally {
    await index.close();
  }
}

/** Multiply-adds the build-time recall check may spend (about a second in JavaScript). */
const PROBE_BUDGET = 1e9;

/**
 * Recall@10 of `index` at its default `ef` against brute force, with up to 100 evenly spaced stored
 * vectors as queries. Stored vectors are not the real queries, but a graph that cannot find the top 10 of
 * its own documents (the failure of the wrong `ip` graph on some data) fails here too. Undefined when even
 * 10 queries would cost more than {@link PROBE_BUDGET}.
 */
async function probeRecall(
  index: HnswIndex,
  vectorsFile: string,
  info: { rows: number; cols: number },
  ids: string[],
): Promise<{ recall: number; queries: number } | undefined> {
  const { rows, cols } = info;
  const count = Math.min(100, rows, Math.floor(PROBE_BUDGET / (rows * cols)));
  if (count < Math.min(10, rows)) return undefined;
  // Within the budget the matrix is small enough to read whole for the brute-force reference.
  const vectors = await readNpy(vectorsFile);
  const { data } = vectors;
  const k = Math.min(10, rows);
  const picks = Array.from({ length: count }, (_, i) => Math.floor((i * rows) / count));
  const queries: Matrix = { data: new Float32Array(count * cols), rows: count, cols };
  picks.forEach((r, i) => queries.data.set(data.subarray(r * cols, (r + 1) * cols), i * cols));
  const exact = new ExactIndex({ dim: cols, metric: index.metric });
  await exact.add(vectors, ids);
  const truth = (await exact.search(queries, k)).ids;
  const found = (await index.search(queries, k)).ids;
  return { recall: recallOfResults(found, truth, k), queries: count };
}
