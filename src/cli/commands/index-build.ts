import { readNpy } from '../../data/npy.js';
import {
  readIdLines,
  readVectorIds,
  readVectorsMeta,
  vectorSidecarPaths,
} from '../../data/vector-sidecar.js';
import { InputFormatError } from '../../errors.js';
import { ExactIndex } from '../../index/exact.js';
import { HNSW_DEFAULTS, HnswIndex } from '../../index/hnsw.js';
import { createProgress } from '../../util/progress.js';
import { optionalChoice, optionalInt, optionalString, requireFile, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';

export { readIdLines };

const warn = (m: string): void => void process.stderr.write(`dense-retrieval: warning: ${m}\n`);

/** `dense-retrieval index build`: build an exact or HNSW index from a .npy matrix and its ids. */
export const indexBuildCommand: Command = {
  name: 'index build',
  summary: 'build an exact or HNSW vector index from a .npy matrix and its ids',
  help: `Usage: dense-retrieval index build --vectors X.npy --type exact|hnsw --out PATH [options]

Build a vector index over the rows of X.npy (float32 or float64, [n, dim]). Row i gets the id on line
i+1 of X.ids.txt, which 'encode' writes next to X.npy for a .jsonl input with ids; the metric defaults
to the model's similarity recorded in X.meta.json (also written by 'encode'). The index is written
atomically to one versioned file.

Options:
  --vectors X.npy          document vectors (required)
  --ids IDS.txt            one document id per line, as many as rows (default: X.ids.txt)
  --row-numbers            number the rows 0, 1, ... instead (only when the vectors have no ids)
  --type exact|hnsw        exhaustive search, or approximate HNSW (required)
  --metric ip|cosine|l2    similarity (default: the model's, from X.meta.json: dot -> ip, cosine,
                           euclidean -> l2; else ip, the dot product). A metric other than the
                           model's is a warning.
  --M N                    HNSW links per node (default ${HNSW_DEFAULTS.M}; higher = better recall, more memory)
  --ef-construction N      HNSW build beam (default ${HNSW_DEFAULTS.efConstruction}; higher = better graph, slower build)
  --ef-search N            HNSW default query beam stored with the index (default ${HNSW_DEFAULTS.efSearch})
  --out PATH               where to write the index (required)
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
    out: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(values) {
    const vectorsFile = requireFile(values, 'vectors');
    const idsFile = optionalString(values, 'ids');
    if (idsFile !== undefined) requireFile(values, 'ids');
    const rowNumbers = values['row-numbers'] === true;
    if (rowNumbers && idsFile !== undefined)
      throw new UsageError('--ids and --row-numbers exclude each other');
    const type = optionalChoice(values, 'type', ['exact', 'hnsw'] as const);
    if (type === undefined) throw new UsageError('missing required option --type (exact|hnsw)');
    const explicitMetric = optionalChoice(values, 'metric', ['ip', 'cosine', 'l2'] as const);
    const M = optionalInt(values, 'M', 2);
    const efConstruction = optionalInt(values, 'ef-construction', 1);
    const efSearch = optionalInt(values, 'ef-search', 1);
    const out = requireString(values, 'out');
    if (type === 'exact' && (M !== undefined || efConstruction !== undefined || efSearch !== undefined)) {
      throw new UsageError('--M, --ef-construction and --ef-search apply to --type hnsw only');
    }
    const vectors = await readNpy(vectorsFile);
    const meta = await readVectorsMeta(vectorsFile, vectors);
    let ids: string[];
    if (idsFile !== undefined) {
      ids = await readIdLines(idsFile);
      if (ids.length !== vectors.rows) {
        throw new InputFormatError(
          `has ${ids.length} ids but ${vectorsFile} has ${vectors.rows} rows`,
          idsFile,
        );
      }
    } else {
      const sidecar = await readVectorIds(vectorsFile, vectors, meta);
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
      ids = sidecar ?? Array.from({ length: vectors.rows }, (_, i) => String(i));
    }
    if (meta?.tower === 'query') {
      warn(`${vectorsFile} was encoded with the query tower; documents belong to the passage tower`);
    }
    const modelMetric = meta?.metric ?? undefined;
    const metric = explicitMetric ?? modelMetric ?? 'ip';
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
    const index =
      type === 'exact'
        ? new ExactIndex({ dim: vectors.cols, metric })
        : new HnswIndex({ dim: vectors.cols, metric, M, efConstruction, efSearch, capacity: vectors.rows });
    const progress = createProgress({ total: vectors.rows, label: `${type} build`, unit: 'vectors', quiet });
    const step = type === 'exact' ? vectors.rows : 1000;
    for (let s = 0; s < vectors.rows; s += step) {
      const e = Math.min(vectors.rows, s + step);
      await index.add(
        { data: vectors.data.subarray(s * vectors.cols, e * vectors.cols), rows: e - s, cols: vectors.cols },
        ids.slice(s, e),
      );
      progress.tick(e - s);
    }
    progress.done();
    await index.save(out);
    process.stderr.write(
      `dense-retrieval: ${type} index of ${index.size} x ${index.dim} (${metric}) -> ${out}\n` +
        (explicitMetric === undefined && modelMetric === undefined
          ? `dense-retrieval: metric ${metric}: the default; ${vectorsFile} records no model similarity\n`
          : ''),
    );
  },
};
