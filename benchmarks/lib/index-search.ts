/**
 * Case 3: ExactIndex and HnswIndex on random unit vectors (inner product, as normalised embeddings are
 * searched), k = 10, with a recall/QPS curve over `ef`. Recall is measured against our exact search; the
 * vectors, queries and exact ids go to the work directory so faiss searches the very same data.
 */
import path from 'node:path';
import { writeNpy } from '../../src/data/npy.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { recallOfResults } from '../../src/index/recall.js';
import type { Matrix } from '../../src/types.js';
import { Rng } from '../../src/util/random.js';
import { note, since, writeNpyInt32 } from './common.js';
import type { Row } from './common.js';
import type { BenchOptions } from './options.js';

/** `rows` Gaussian vectors scaled to unit length (uniform on the sphere). */
export function randomUnitVectors(rows: number, dim: number, rng: Rng): Matrix {
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let j = 0; j < dim; j += 2) {
      // Box-Muller: two normal deviates per pair of uniforms.
      const u = 1 - rng.next();
      const v = rng.next();
      const m = Math.sqrt(-2 * Math.log(u));
      const a = m * Math.cos(2 * Math.PI * v);
      const b = m * Math.sin(2 * Math.PI * v);
      data[r * dim + j] = a;
      norm += a * a;
      if (j + 1 < dim) {
        data[r * dim + j + 1] = b;
        norm += b * b;
      }
    }
    const s = 1 / Math.sqrt(norm);
    for (let j = 0; j < dim; j++) data[r * dim + j] *= s;
  }
  return { data, rows, cols: dim };
}

/**
 * Unit vectors of intrinsic dimension `rank`: Gaussian `z` in R^rank mapped through one fixed random
 * `[dim, rank]` matrix. Uniform random vectors in 384-d are the worst case of every ANN index (all
 * neighbours nearly equidistant); sentence embeddings have a far lower intrinsic dimension, which this
 * imitates.
 */
export function lowRankUnitVectors(rows: number, dim: number, rank: number, basis: Matrix, rng: Rng): Matrix {
  const z = randomUnitVectors(rows, rank, rng);
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let i = 0; i < dim; i++) {
      let s = 0;
      for (let j = 0; j < rank; j++) s += basis.data[i * rank + j] * z.data[r * rank + j];
      data[r * dim + i] = s;
      norm += s * s;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < dim; i++) data[r * dim + i] *= inv;
  }
  return { data, rows, cols: dim };
}

/** The index cases' data set (the same vectors and queries for the same options, in every case). */
export function indexData(opts: BenchOptions): {
  base: Matrix;
  queries: Matrix;
  ids: string[];
  common: { vectors: number; dim: number; queries: number; k: number; data: string };
} {
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
  return { base, queries, ids, common };
}

export async function benchIndex(opts: BenchOptions, workdir: string): Promise<Row[]> {
  const { vectors, queries: nq, dim, k, M, efConstruction, ef } = opts.index;
  const { base, queries, ids, common } = indexData(opts);
  const rows: Row[] = [];

  note(`index-exact: ${vectors} x ${dim} ${common.data} vectors, ${nq} queries, k = ${k}`);
  const exact = new ExactIndex({ dim, metric: 'ip' });
  await exact.add(base, ids);
  let t0 = performance.now();
  const truth = await exact.search(queries, k);
  let seconds = since(t0);
  rows.push({
    name: 'index-exact',
    backend: 'ExactIndex',
    ...common,
    seconds,
    qps: nq / seconds,
    recallAt10: 1,
  });
  note(`index-exact: ${(nq / seconds).toFixed(1)} QPS`);

  await writeNpy(path.join(workdir, 'base.npy'), base);
  await writeNpy(path.join(workdir, 'queries.npy'), queries);
  const exactIds = new Int32Array(nq * k);
  truth.ids.forEach((row, i) => row.forEach((id, j) => (exactIds[i * k + j] = Number(id))));
  await writeNpyInt32(path.join(workdir, 'exact_ids.npy'), exactIds, [nq, k]);

  note(`index-hnsw: building M = ${M}, efConstruction = ${efConstruction}`);
  const hnsw = new HnswIndex({ dim, metric: 'ip', M, efConstruction, capacity: vectors });
  t0 = performance.now();
  await hnsw.add(base, ids);
  const buildSeconds = since(t0);
  note(`index-hnsw: built in ${buildSeconds.toFixed(1)} s`);
  for (const e of ef) {
    t0 = performance.now();
    const result = await hnsw.search(queries, k, { ef: e });
    seconds = since(t0);
    const recall = recallOfResults(result.ids, truth.ids, k);
    rows.push({
      name: 'index-hnsw',
      backend: 'HnswIndex',
      ...common,
      M,
      efConstruction,
      ef: e,
      buildSeconds,
      seconds,
      qps: nq / seconds,
      recallAt10: recall,
    });
    note(`index-hnsw ef=${e}: ${(nq / seconds).toFixed(0)} QPS, recall@10 ${recall.toFixed(3)}`);
  }
  return rows;
}
