/**
 * Case 4: Int8Index and BinaryIndex with rescoring on the vectors of the index case (same generator and
 * seed), k = 10: QPS, recall@10 against exact float search, and memory (bytes the codes take against
 * the raw code size). The data and exact ids go to the work directory for the faiss reference
 * (`IndexBinaryFlat`, `IndexScalarQuantizer` QT_8bit, each followed by the same float rescoring).
 */
import path from 'node:path';
import { writeNpy } from '../../src/data/npy.js';
import { BinaryIndex } from '../../src/index/binary.js';
import { ExactIndex } from '../../src/index/exact.js';
import { Int8Index } from '../../src/index/int8.js';
import { recallOfResults } from '../../src/index/recall.js';
import type { Matrix } from '../../src/types.js';
import { Rng } from '../../src/util/random.js';
import { note, since, writeNpyInt32 } from './common.js';
import type { Row } from './common.js';
import { lowRankUnitVectors, randomUnitVectors } from './index-search.js';
import type { BenchOptions } from './options.js';

/**
 * Rescore multipliers measured per kind: 1 is the code ranking alone (reordered), then wider pools. int8
 * goes further so that one of them reaches faiss SQ8's recall (its one operating point): the report marks the
 * smallest that does and compares QPS there, at equal recall.
 */
export const MULTIPLIERS = { int8: [1, 2, 4, 10, 20, 40], binary: [1, 4, 10] } as const;

export async function benchQuantized(opts: BenchOptions, workdir: string): Promise<Row[]> {
  const { vectors, queries: nq, dim, k, rank } = opts.index;
  const rng = new Rng(7);
  let base: Matrix;
  let queries: Matrix;
  if (rank === 0) {
    base = randomUnitVectors(vectors, dim, rng);
    queries = randomUnitVectors(nq, dim, rng);
  } else {
    const basis = randomUnitVectors(dim, rank, rng);
    base = lowRankUnitVectors(vectors, dim, rank, basis, rng);
    queries = lowRankUnitVectors(nq, dim, rank, basis, rng);
  }
  const ids = Array.from({ length: vectors }, (_, i) => String(i));
  const common = { vectors, dim, queries: nq, k, data: rank === 0 ? 'uniform' : `rank-${rank}` };
  note(`quantized: ${vectors} x ${dim} ${common.data} vectors, ${nq} queries, k = ${k}; exact reference`);
  const exact = new ExactIndex({ dim, metric: 'ip' });
  await exact.add(base, ids);
  const truth = await exact.search(queries, k);
  await writeNpy(path.join(workdir, 'q_base.npy'), base);
  await writeNpy(path.join(workdir, 'q_queries.npy'), queries);
  const exactIds = new Int32Array(nq * k);
  truth.ids.forEach((row, i) => row.forEach((id, j) => (exactIds[i * k + j] = Number(id))));
  await writeNpyInt32(path.join(workdir, 'q_exact_ids.npy'), exactIds, [nq, k]);

  const rows: Row[] = [];
  const kinds = [
    // Ranges from the corpus itself, as ST's quantize_embeddings does without calibration data.
    { name: 'index-int8', index: new Int8Index({ dim, metric: 'ip' }), raw: dim, mults: MULTIPLIERS.int8 },
    {
      name: 'index-binary',
      index: new BinaryIndex({ dim, metric: 'ip' }),
      raw: Math.ceil(dim / 8),
      mults: MULTIPLIERS.binary,
    },
  ];
  for (const { name, index, raw, mults } of kinds) {
    let t0 = performance.now();
    await index.add(base, ids);
    const buildSeconds = since(t0);
    // Untimed warm-up (JIT, tfjs kernels), so the first multiplier's row is not the one that pays for it. Five
    // queries: BinaryIndex's kernel scans four at a time and the rest one by one, and V8 first runs each wasm
    // function as baseline code (Liftoff), optimizing it once it has run a while.
    const warm = Math.min(5, nq);
    await index.search({ data: queries.data.subarray(0, warm * dim), rows: warm, cols: dim }, k);
    for (const m of mults) {
      t0 = performance.now();
      const result = await index.search(queries, k, { rescoreMultiplier: m });
      const seconds = since(t0);
      const recall = recallOfResults(result.ids, truth.ids, k);
      // After the search: BinaryIndex's kernel memory holds the codes and the scan's scratch.
      const codeBytes = index.allocatedBytes;
      rows.push({
        name,
        backend: index.constructor.name,
        ...common,
        rescoreMultiplier: m,
        buildSeconds,
        seconds,
        qps: nq / seconds,
        recallAt10: recall,
        bytesPerVector: index.bytesPerVector,
        memoryBytes: codeBytes,
        rawCodeBytes: vectors * raw,
        memoryRatio: codeBytes / (vectors * raw),
      });
      note(
        `${name} x${m}: ${(nq / seconds).toFixed(1)} QPS, recall@10 ${recall.toFixed(3)}, ${codeBytes} code bytes`,
      );
    }
  }
  return rows;
}
