import { readNpy, readNpyBlocks, readNpyInfo } from '../../data/npy.js';
import {
  readIdLines,
  readVectorIds,
  readVectorsMeta,
  vectorSidecarPaths,
} from '../../data/vector-sidecar.js';
import type { Metric } from '../../index/types.js';
import { InputFormatError } from '../../errors.js';
import { ExactIndex } from '../../index/exact.js';
import { HNSW_DEFAULTS, HnswIndex, defaultEfSearch } from '../../index/hnsw.js';
import { BinaryIndex } from '../../index/binary.js';
import { Int8Index } from '../../index/int8.js';
import { PgvectorIndex } from '../../index/pgvector.js';
import type { VectorIndex } from '../../index/types.js';
import { createProgress } from '../../util/progress.js';
import { buildTunedHnsw } from '../../index/tune-build.js';
import {
  optionalChoice,
  optionalFloat,
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
import { dims } from '../../util/truncate.js';
import { MEASURED_AUTO_MIN } from '../../index/ip-space.js';

export { readIdLines };

const warn = (m: string): void => void process.stderr.write(`dense-retrieval: warning: ${m}\n`);

/** `dense-retrieval index build`: build an exact or HNSW index from a .npy matrix and its ids. */
export const indexBuildCommand: Command = {
  name: 'index build',
  summary: 'build an exact, HNSW, int8, binary or pgvector index from a .npy matrix and its ids',
  help: `Usage: dense-retrieval index build --vectors X.npy --type exact|hnsw|int8|binary|pgvector --out PATH [options]

Build a vector index over the rows of X.npy (float32 or float64, [n, dim]). Row i gets the id on line
i+1 of X.ids.txt, which 'encode' writes next to X.npy for a .jsonl input with ids; the metric defaults
to the model's similarity recorded in X.meta.json (also written by 'encode'). An exact or HNSW index is
written atomically to one versioned file. A pgvector index loads the vectors into PostgreSQL (COPY in
batches), builds pgvector's index there, and writes PATH as a small JSON reference (engine, table,
parameters; never a password) that 'index search' reopens.

Options:
  --vectors X.npy          document vectors (required)
  --ids IDS.txt            one document id per line, as many as rows (default: X.ids.txt)
  --row-numbers            number the rows 0, 1, ... instead (only when the vectors have no ids)
  --type exact|hnsw|int8|binary|pgvector
                           exhaustive float search, approximate HNSW (hnswlib), an exhaustive scan of int8
                           codes (4x smaller) / sign bits (32x smaller) with float rescoring, or PostgreSQL +
                           pgvector (required)
  --metric ip|cosine|l2    similarity (default: the model's, from X.meta.json: dot -> ip, cosine,
                           euclidean -> l2; else ip, the dot product). A metric other than the
                           model's is a warning.
  --M N                    HNSW links per node (default ${HNSW_DEFAULTS.M}; higher = better recall, more memory)
  --ef-construction N      HNSW build beam (default ${HNSW_DEFAULTS.efConstruction}; higher = better graph, slower build)
  --ef-search N            HNSW default query beam stored with the index (default: none stored, and
                           searches use a beam that grows with the index size, measured to keep
                           recall@10 >= 0.98 on random 384-d vectors at M 48: ${defaultEfSearch(1000)} at 1k, ${defaultEfSearch(10000)} at 10k,
                           ${HNSW_DEFAULTS.efSearch} at 100k vectors, wider for a smaller --M; the build prints it)
  --mips-transform auto|on|off
                           HNSW graph for --metric ip: on = MIPS-to-L2 reduction, off = hnswlib's ip
                           space, auto (default) = with >= ${MEASURED_AUTO_MIN.toLocaleString('en-US')} vectors, builds both graphs on a
                           sample and keeps the one with the better recall@10; with fewer (or within 0.005)
                           by the norm spread of the vectors (docs/index-tuning.md).
                           After the build, recall@10 at --ef-search is measured on sampled documents used
                           as queries, with a warning below ${RECALL_WARNING}
  --target-recall R        HNSW: tune to recall@10 >= R against exact search (e.g. 0.98), measured on
                           min(200, a tenth of the vectors) held-out documents (38 of 380 vectors): tries
                           M = 16, 32, 48 (or the given --M) and, for --metric ip without --mips-transform,
                           both graph spaces; picks the smallest M, then the space needing the smallest ef,
                           that reach R; all are stored and printed
  --truncate-dim N         Matryoshka: index only the first N dimensions (queries are cut the same way)
  --rescore-multiplier N   int8/binary: candidates rescored per result (default 4; higher = better recall)
  --keep-vectors           int8/binary: also keep float32 vectors so rescoring is exact (more memory)
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
    'row-numbers': { type: 'boolean' },
    type: { type: 'string' },
    metric: { type: 'string' },
    M: { type: 'string' },
    'ef-construction': { type: 'string' },
    'ef-search': { type: 'string' },
    'mips-transform': { type: 'string' },
    'truncate-dim': { type: 'string' },
    'target-recall': { type: 'string' },
    'rescore-multiplier': { type: 'string' },
    'keep-vectors': { type: 'boolean' },
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
    const idsFile = optionalString(values, 'ids');
    if (idsFile !== undefined) requireFile(values, 'ids');
    const rowNumbers = values['row-numbers'] === true;
    if (rowNumbers && idsFile !== undefined)
      throw new UsageError('--ids and --row-numbers exclude each other');
    const type = optionalChoice(values, 'type', ['exact', 'hnsw', 'int8', 'binary', 'pgvector'] as const);
    if (type === undefined) {
      throw new UsageError('missing required option --type (exact|hnsw|int8|binary|pgvector)');
    }
    const explicitMetric = optionalChoice(values, 'metric', ['ip', 'cosine', 'l2'] as const);
    const M = optionalInt(values, 'M', 2);
    const efConstruction = optionalInt(values, 'ef-construction', 1);
    const efSearch = optionalInt(values, 'ef-search', 1);
    const out = requireString(values, 'out');
    const truncateDim = optionalInt(values, 'truncate-dim', 1);
    const rescoreMultiplier = optionalInt(values, 'rescore-multiplier', 1);
    const keepVectors = values['keep-vectors'] === true;
    const targetRecall = optionalFloat(values, 'target-recall');
    if (targetRecall !== undefined && !(targetRecall > 0 && targetRecall <= 1)) {
      throw new UsageError(`--target-recall must be a number in (0, 1], got ${targetRecall}`);
    }
    if (targetRecall !== undefined && (type !== 'hnsw' || efSearch !== undefined)) {
      throw new UsageError('--target-recall applies to --type hnsw, and chooses --ef-search itself');
    }
    if (
      type !== 'hnsw' &&
      type !== 'pgvector' &&
      (M !== undefined || efConstruction !== undefined || efSearch !== undefined)
    ) {
      throw new UsageError('--M, --ef-construction and --ef-search apply to --type hnsw and pgvector only');
    }
    const quantized = type === 'int8' || type === 'binary';
    if (!quantized && (rescoreMultiplier !== undefined || keepVectors)) {
      throw new UsageError('--rescore-multiplier and --keep-vectors apply to --type int8|binary only');
    }
    const mipsTransform = parseMipsTransform(values);
    if (mipsTransform !== undefined && type !== 'hnsw') {
      throw new UsageError('--mips-transform applies to --type hnsw only');
    }
    const pgFlags = ['table', 'database', 'data-dir', 'pg-index', 'lists', 'halfvec'].filter(
      (f) => values[f] !== undefined,
    );
    if (type !== 'pgvector' && pgFlags.length > 0) {
      throw new UsageError(`--${pgFlags[0]} applies to --type pgvector only`);
    }
    if (type === 'pgvector' && truncateDim !== undefined) {
      throw new UsageError('--truncate-dim does not apply to --type pgvector: truncate the vectors first');
    }
    // The vectors are streamed in blocks: the .npy is never held whole beside the index it fills (except
    // for int8's calibration ranges and --target-recall's held-out documents, which need every row).
    const info = await readNpyInfo(vectorsFile);
    const meta = await readVectorsMeta(vectorsFile, info);
    let ids: string[];
    if (idsFile !== undefined) {
      ids = await readIdLines(idsFile);
      if (ids.length !== info.rows) {
        throw new InputFormatError(`has ${ids.length} ids but ${vectorsFile} has ${info.rows} rows`, idsFile);
      }
    } else {
      const sidecar = await readVectorIds(vectorsFile, info, meta);
      if (sidecar !== undefined && rowNumbers) {
        throw new UsageError(
          `--row-numbers: ${vectorSidecarPaths(vectorsFile).ids} holds the rows' ids; drop --row-numbers to use them`,
        );
      }
      if (sidecar === undefined && !rowNumbers) {
        throw new UsageError(
          `no ids for ${vectorsFile}: ${vectorSidecarPaths(vectorsFile).ids} does not exist ` +
            '(\'encode\' writes it for a .jsonl input with "_id" fields); give --ids IDS.txt, or ' +
            '--row-numbers to number the rows 0, 1, ...',
        );
      }
      ids = sidecar ?? Array.from({ length: info.rows }, (_, i) => String(i));
    }
    if (meta?.tower === 'query') {
      warn(`${vectorsFile} was encoded with the query tower; documents belong to the passage tower`);
    }
    const modelMetric = meta?.metric ?? undefined;
    const metric = explicitMetric ?? modelMetric ?? 'ip';
    if (mipsTransform !== undefined && metric !== 'ip') {
      throw new UsageError(
        `--mips-transform applies to metric ip only (this index: ${metric}${explicitMetric === undefined ? `, from ${vectorSidecarPaths(vectorsFile).meta}` : ''})`,
      );
    }
    // Unit vectors rank alike under ip and cosine: no warning then.
    const alike = meta?.normalized === true && explicitMetric !== 'l2' && modelMetric !== 'l2';
    if (
      explicitMetric !== undefined &&
      modelMetric !== undefined &&
      explicitMetric !== modelMetric &&
      !alike
    ) {
      warn(
        `--metric ${explicitMetric} differs from the model's similarity (${meta!.similarity}, metric ` +
          `${modelMetric}, from ${vectorSidecarPaths(vectorsFile).meta})`,
      );
    }
    const quiet = values.quiet === true;
    if (truncateDim !== undefined && truncateDim > info.cols) {
      throw new UsageError(
        `--truncate-dim ${truncateDim} exceeds the ${info.cols} dimensions of ${vectorsFile}`,
      );
    }
    const dim = info.cols;
    if (targetRecall !== undefined) {
      const tuned = await buildTunedHnsw(await readNpy(vectorsFile), ids, {
        metric,
        targetRecall,
        Ms: M === undefined ? undefined : [M],
        efConstruction,
        truncateDim,
        quiet,
        ...(mipsTransform === undefined ? {} : { mipsTransform }),
      });
      await tuned.save(out);
      const t = tuned.tuning!;
      const tried = (t.candidates ?? [])
        .map(
          (c) => `M=${c.M} ${c.space} ef=${c.ef} recall ${c.recall.toFixed(3)}${c.met ? '' : ' (not met)'}`,
        )
        .join('; ');
      process.stderr.write(
        `dense-retrieval: hnsw index of ${tuned.size} x ${tuned.dim} (${metric}) -> ${out}\n` +
          `dense-retrieval: tuned M=${tuned.M} space=${t.space} ef=${t.ef}: recall@${t.k} ${t.recall.toFixed(3)} ` +
          `(95 % lower bound ${t.recallLowerBound.toFixed(3)}) on ${t.queries} held-out documents; ` +
          `target ${targetRecall} ${t.met ? 'met' : 'NOT met (best tried kept; raise --M)'}\n` +
          `dense-retrieval: tried ${tried}\n`,
      );
      return;
    }
    if (type === 'pgvector') {
      await buildPgvector(values, {
        vectorsFile,
        dim,
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
        ? new ExactIndex({ dim, metric, truncateDim, capacity: info.rows })
        : type === 'hnsw'
          ? new HnswIndex({
              dim,
              metric,
              M,
              efConstruction,
              efSearch,
              mipsTransform,
              capacity: info.rows,
              truncateDim,
            })
          : type === 'int8'
            ? new Int8Index({
                dim,
                metric,
                truncateDim,
                rescoreMultiplier,
                keepVectors,
                calibration: await readNpy(vectorsFile),
              })
            : new BinaryIndex({ dim, metric, truncateDim, rescoreMultiplier, keepVectors });
    const progress = createProgress({ total: info.rows, label: `${type} build`, unit: 'vectors', quiet });
    const step = type === 'hnsw' ? 1000 : 65536;
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
    const settings =
      index instanceof HnswIndex
        ? `dense-retrieval: hnsw M ${index.M}, ef-construction ${index.efConstruction}, ef-search ${index.efSearch}` +
          (index.efSearchIsDefault
            ? ` (the default for ${index.size} vectors; it follows the index size, --ef-search fixes it)\n`
            : '\n')
        : '';
    process.stderr.write(
      `dense-retrieval: ${type} index of ${index.size} x ${index.dim} (${metric}${graph}) -> ${out}\n` +
        settings +
        (explicitMetric === undefined && modelMetric === undefined
          ? `dense-retrieval: metric ${metric}: the default; ${vectorsFile} records no model similarity\n`
          : ''),
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
  // The reference searches what the graph searches: with --truncate-dim, the first truncateDim coordinates.
  const exact = new ExactIndex({ ...dims(index.dim, index.inputDim), metric: index.metric });
  await exact.add(vectors, ids);
  const truth = (await exact.search(queries, k)).ids;
  const found = (await index.search(queries, k)).ids;
  return { recall: recallOfResults(found, truth, k), queries: count };
}
