import { readLines } from '../../data/lines.js';
import { readNpy } from '../../data/npy.js';
import { InputFormatError } from '../../errors.js';
import { ExactIndex } from '../../index/exact.js';
import { HNSW_DEFAULTS, HnswIndex } from '../../index/hnsw.js';
import { createProgress } from '../../util/progress.js';
import { optionalChoice, optionalInt, parseMipsTransform, requireFile, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { RECALL_WARNING } from '../../eval/retrieval-evaluator.js';
import type { Matrix } from '../../types.js';
import { recallOfResults } from '../../index/recall.js';

/** Ids of a text file, one per line; blank or duplicate ids are errors naming the line. */
export async function readIdLines(file: string): Promise<string[]> {
  const ids: string[] = [];
  const seen = new Map<string, number>();
  // The shared line reader refuses invalid UTF-8 (which would otherwise merge ids into U+FFFD).
  for await (const { text, line } of readLines(file, { keepBlank: true })) {
    const id = text.trim();
    if (id === '') throw new InputFormatError('empty id', file, line);
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
  summary: 'build an exact or HNSW vector index from a .npy matrix and its ids',
  help: `Usage: dense-retrieval index build --vectors X.npy --ids IDS.txt --type exact|hnsw --out PATH [options]

Build a vector index over the rows of X.npy (float32 or float64, [n, dim]); row i gets the id on line
i+1 of IDS.txt. The index is written atomically to one versioned file.

Options:
  --vectors X.npy          document vectors (required)
  --ids IDS.txt            one document id per line, as many as rows (required)
  --type exact|hnsw        exhaustive search, or approximate HNSW (required)
  --metric ip|cosine|l2    similarity (default ip: dot product, as DPR; use the one the model was trained with)
  --M N                    HNSW links per node (default ${HNSW_DEFAULTS.M}; higher = better recall, more memory)
  --ef-construction N      HNSW build beam (default ${HNSW_DEFAULTS.efConstruction}; higher = better graph, slower build)
  --ef-search N            HNSW default query beam stored with the index (default ${HNSW_DEFAULTS.efSearch})
  --mips-transform auto|on|off
                           HNSW graph for --metric ip: on = MIPS-to-L2 reduction, off = hnswlib's ip
                           space, auto (default) = by the norm spread of the vectors (docs/index-tuning.md).
                           After the build, recall@10 at --ef-search is measured on sampled documents used
                           as queries, with a warning below ${RECALL_WARNING}
  --out PATH               where to write the index (required)
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
    quiet: { type: 'boolean' },
  },
  async run(values) {
    const vectorsFile = requireFile(values, 'vectors');
    const idsFile = requireFile(values, 'ids');
    const type = optionalChoice(values, 'type', ['exact', 'hnsw'] as const);
    if (type === undefined) throw new UsageError('missing required option --type (exact|hnsw)');
    const metric = optionalChoice(values, 'metric', ['ip', 'cosine', 'l2'] as const) ?? 'ip';
    const M = optionalInt(values, 'M', 2);
    const efConstruction = optionalInt(values, 'ef-construction', 1);
    const efSearch = optionalInt(values, 'ef-search', 1);
    const out = requireString(values, 'out');
    const mipsTransform = parseMipsTransform(values);
    if (
      type === 'exact' &&
      (M !== undefined ||
        efConstruction !== undefined ||
        efSearch !== undefined ||
        mipsTransform !== undefined)
    ) {
      throw new UsageError(
        '--M, --ef-construction, --ef-search and --mips-transform apply to --type hnsw only',
      );
    }
    if (mipsTransform !== undefined && metric !== 'ip') {
      throw new UsageError('--mips-transform applies to --metric ip only');
    }
    const vectors = await readNpy(vectorsFile);
    const ids = await readIdLines(idsFile);
    if (ids.length !== vectors.rows) {
      throw new InputFormatError(
        `has ${ids.length} ids but ${vectorsFile} has ${vectors.rows} rows`,
        idsFile,
      );
    }
    const quiet = values.quiet === true;
    const index =
      type === 'exact'
        ? new ExactIndex({ dim: vectors.cols, metric })
        : new HnswIndex({
            dim: vectors.cols,
            metric,
            M,
            efConstruction,
            efSearch,
            mipsTransform,
            capacity: vectors.rows,
          });
    const progress = createProgress({ total: vectors.rows, label: `${type} build`, unit: 'vectors', quiet });
    const step = type === 'exact' ? vectors.rows : 1000;
    for (let s = 0; s < vectors.rows; s += step) {
      const e = Math.min(vectors.rows, s + step);
      index.add(
        { data: vectors.data.subarray(s * vectors.cols, e * vectors.cols), rows: e - s, cols: vectors.cols },
        ids.slice(s, e),
      );
      progress.tick(e - s);
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
      const probe = probeRecall(index, vectors, ids);
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

/** Multiply-adds the build-time recall check may spend (about a second in JavaScript). */
const PROBE_BUDGET = 1e9;

/**
 * Recall@10 of `index` at its default `ef` against brute force, with up to 100 evenly spaced stored
 * vectors as queries. Stored vectors are not the real queries, but a graph that cannot find the top 10 of
 * its own documents (the failure of the wrong `ip` graph on some data) fails here too. Undefined when even
 * 10 queries would cost more than {@link PROBE_BUDGET}.
 */
function probeRecall(
  index: HnswIndex,
  vectors: Matrix,
  ids: string[],
): { recall: number; queries: number } | undefined {
  const { rows, cols, data } = vectors;
  const count = Math.min(100, rows, Math.floor(PROBE_BUDGET / (rows * cols)));
  if (count < Math.min(10, rows)) return undefined;
  const k = Math.min(10, rows);
  const picks = Array.from({ length: count }, (_, i) => Math.floor((i * rows) / count));
  const queries: Matrix = { data: new Float32Array(count * cols), rows: count, cols };
  picks.forEach((r, i) => queries.data.set(data.subarray(r * cols, (r + 1) * cols), i * cols));
  const exact = new ExactIndex({ dim: cols, metric: index.metric });
  exact.add(vectors, ids);
  const truth = exact.search(queries, k).ids;
  const found = index.search(queries, k).ids;
  return { recall: recallOfResults(found, truth, k), queries: count };
}
