import { promises as fs } from 'node:fs';
import { readNpy } from '../../data/npy.js';
import { InputFormatError } from '../../errors.js';
import { ExactIndex } from '../../index/exact.js';
import { HNSW_DEFAULTS, HnswIndex } from '../../index/hnsw.js';
import { BinaryIndex } from '../../index/binary.js';
import { Int8Index } from '../../index/int8.js';
import { createProgress } from '../../util/progress.js';
import { buildTunedHnsw } from '../../index/tune-build.js';
import { optionalChoice, optionalInt, optionalString, requireFile, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';

/** Ids of a text file, one per line; blank or duplicate ids are errors naming the line. */
export async function readIdLines(file: string): Promise<string[]> {
  let raw = await fs.readFile(file, 'utf8');
  if (raw.charCodeAt(0) === 0xfeff) raw = raw.slice(1);
  const lines = raw.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const seen = new Map<string, number>();
  lines.forEach((line, i) => {
    const id = line.trim();
    if (id === '') throw new InputFormatError('empty id', file, i + 1);
    const first = seen.get(id);
    if (first !== undefined)
      throw new InputFormatError(`duplicate id '${id}' (first on line ${first})`, file, i + 1);
    seen.set(id, i + 1);
  });
  if (lines.length === 0) throw new InputFormatError('no ids', file);
  return lines.map((l) => l.trim());
}

/** `dense-retrieval index build`: build an exact or HNSW index from a .npy matrix and an id file. */
export const indexBuildCommand: Command = {
  name: 'index build',
  summary: 'build an exact or HNSW vector index from a .npy matrix and its ids',
  help: `Usage: dense-retrieval index build --vectors X.npy --ids IDS.txt --type exact|hnsw|int8|binary --out PATH [options]

Build a vector index over the rows of X.npy (float32 or float64, [n, dim]); row i gets the id on line
i+1 of IDS.txt. The index is written atomically to one versioned file.

Options:
  --vectors X.npy          document vectors (required)
  --ids IDS.txt            one document id per line, as many as rows (required)
  --type exact|hnsw|int8|binary
                           exhaustive float search, approximate HNSW, or an exhaustive scan of int8 codes
                           (4x smaller) / sign bits (32x smaller) with float rescoring (required)
  --metric ip|cosine|l2    similarity (default ip: dot product, as DPR; use the one the model was trained with)
  --M N                    HNSW links per node (default ${HNSW_DEFAULTS.M}; higher = better recall, more memory)
  --ef-construction N      HNSW build beam (default ${HNSW_DEFAULTS.efConstruction}; higher = better graph, slower build)
  --ef-search N            HNSW default query beam stored with the index (default ${HNSW_DEFAULTS.efSearch})
  --target-recall R        HNSW: tune to recall@10 >= R against exact search (e.g. 0.98), measured on 200
                           held-out documents: tries M = 16, 32, 48 (or the given --M) and picks the
                           smallest M, then the smallest ef, that reach R; both are stored and printed
  --truncate-dim N         Matryoshka: index only the first N dimensions (queries are cut the same way)
  --rescore-multiplier N   int8/binary: candidates rescored per result (default 4; higher = better recall)
  --keep-vectors           int8/binary: also keep float32 vectors so rescoring is exact (more memory)
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
    'truncate-dim': { type: 'string' },
    'target-recall': { type: 'string' },
    'rescore-multiplier': { type: 'string' },
    'keep-vectors': { type: 'boolean' },
    out: { type: 'string' },
    quiet: { type: 'boolean' },
  },
  async run(values) {
    const vectorsFile = requireFile(values, 'vectors');
    const idsFile = requireFile(values, 'ids');
    const type = optionalChoice(values, 'type', ['exact', 'hnsw', 'int8', 'binary'] as const);
    if (type === undefined) throw new UsageError('missing required option --type (exact|hnsw|int8|binary)');
    const metric = optionalChoice(values, 'metric', ['ip', 'cosine', 'l2'] as const) ?? 'ip';
    const M = optionalInt(values, 'M', 2);
    const efConstruction = optionalInt(values, 'ef-construction', 1);
    const efSearch = optionalInt(values, 'ef-search', 1);
    const out = requireString(values, 'out');
    const truncateDim = optionalInt(values, 'truncate-dim', 1);
    const rescoreMultiplier = optionalInt(values, 'rescore-multiplier', 1);
    const keepVectors = values['keep-vectors'] === true;
    const targetRaw = optionalString(values, 'target-recall');
    const targetRecall = targetRaw === undefined ? undefined : Number(targetRaw);
    if (targetRecall !== undefined && !(targetRecall > 0 && targetRecall <= 1)) {
      throw new UsageError(`--target-recall must be a number in (0, 1], got '${targetRaw}'`);
    }
    if (targetRecall !== undefined && (type !== 'hnsw' || efSearch !== undefined)) {
      throw new UsageError('--target-recall applies to --type hnsw, and chooses --ef-search itself');
    }
    if (type !== 'hnsw' && (M !== undefined || efConstruction !== undefined || efSearch !== undefined)) {
      throw new UsageError('--M, --ef-construction and --ef-search apply to --type hnsw only');
    }
    const quantized = type === 'int8' || type === 'binary';
    if (!quantized && (rescoreMultiplier !== undefined || keepVectors)) {
      throw new UsageError('--rescore-multiplier and --keep-vectors apply to --type int8|binary only');
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
    if (truncateDim !== undefined && truncateDim > vectors.cols) {
      throw new UsageError(
        `--truncate-dim ${truncateDim} exceeds the ${vectors.cols} dimensions of ${vectorsFile}`,
      );
    }
    const dim = vectors.cols;
    if (targetRecall !== undefined) {
      const tuned = await buildTunedHnsw(vectors, ids, {
        metric,
        targetRecall,
        Ms: M === undefined ? undefined : [M],
        efConstruction,
        truncateDim,
        quiet,
      });
      await tuned.save(out);
      const t = tuned.tuning!;
      process.stderr.write(
        `dense-retrieval: hnsw index of ${tuned.size} x ${tuned.dim} (${metric}) -> ${out}\n` +
          `dense-retrieval: tuned M=${tuned.M} ef=${t.ef}: recall@${t.k} ${t.recall.toFixed(3)} ` +
          `(95 % lower bound ${t.recallLowerBound.toFixed(3)}) on ${t.queries} held-out documents; ` +
          `target ${targetRecall} ${t.met ? 'met' : 'NOT met (best tried kept; raise --M)'}\n`,
      );
      return;
    }
    const index =
      type === 'exact'
        ? new ExactIndex({ dim, metric, truncateDim })
        : type === 'hnsw'
          ? new HnswIndex({ dim, metric, M, efConstruction, efSearch, capacity: vectors.rows, truncateDim })
          : type === 'int8'
            ? new Int8Index({
                dim,
                metric,
                truncateDim,
                rescoreMultiplier,
                keepVectors,
                calibration: vectors,
              })
            : new BinaryIndex({ dim, metric, truncateDim, rescoreMultiplier, keepVectors });
    const progress = createProgress({ total: vectors.rows, label: `${type} build`, unit: 'vectors', quiet });
    const step = type === 'hnsw' ? 1000 : vectors.rows;
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
      `dense-retrieval: ${type} index of ${index.size} x ${index.dim} (${metric}) -> ${out}\n`,
    );
  },
};
