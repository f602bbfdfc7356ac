/**
 * Which graph space should `HnswIndex` use for `metric: 'ip'`? Measures recall@10 against exact
 * inner-product search for the two candidates, on several vector distributions:
 * - `l2-reduction`: the MIPS-to-L2 reduction (Bachrach et al., 2014), `mipsTransform: true`;
 * - `ip`: hnswlib's own `ip` space (`1 - dot`), `mipsTransform: false`.
 *
 * Distributions (synthetic, seeded; no model or data set needed):
 * - `unit`: Gaussian rows normalised to unit length, Gaussian queries (what cosine models give);
 * - `varied-norms`: Gaussian rows scaled by uniform(0.2, 5), Gaussian queries (the issue 12 input,
 *   DPR-style dot-product embeddings with a wide norm spread);
 * - `random-bert`: a large shared mean direction plus small low-rank noise, norms ~3.1-3.7 (what a randomly
 *   initialised BERT's mean-pooled vectors look like: every pair has cosine ~0.9);
 * - `trained-like`: 64 topic clusters in a rank-32 subspace, per-row norms uniform(0.8, 1.25), queries near
 *   the clusters (the structure of trained retrieval embeddings, with a DPR-like norm spread).
 *
 * Run by hand (a few CPU-minutes at the default sizes; keep it small on shared machines):
 *
 *     node --import tsx benchmarks/hnsw-ip-space.ts [--n 3000] [--queries 100] [--json]
 *
 * The table in docs/index-tuning.md ("Inner product: which graph space") comes from this script.
 */
import { ExactIndex } from '../src/index/exact.js';
import { HnswIndex, chooseMipsTransform } from '../src/index/hnsw.js';
import { measureRecall } from '../src/index/recall.js';
import type { Matrix } from '../src/types.js';
import { Rng } from '../src/util/random.js';

type Generator = (n: number, d: number, rng: Rng, queries: boolean) => Matrix;

function gaussian(rng: Rng): number {
  // Box-Muller; `next()` is uniform in [0, 1).
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function matrix(n: number, d: number, fill: (row: Float32Array, i: number) => void): Matrix {
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) fill(data.subarray(i * d, (i + 1) * d), i);
  return { data, rows: n, cols: d };
}

function scale(row: Float32Array, s: number): void {
  for (let j = 0; j < row.length; j++) row[j] *= s;
}

function norm(row: Float32Array): number {
  let s = 0;
  for (const x of row) s += x * x;
  return Math.sqrt(s);
}

/** Structure shared by the documents and queries of one distribution (same seed). */
function basis(d: number, rank: number, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return Array.from({ length: rank }, () =>
    Float32Array.from({ length: d }, () => gaussian(rng) / Math.sqrt(d)),
  );
}

const GENERATORS: Record<string, Generator> = {
  unit: (n, d, rng) =>
    matrix(n, d, (row) => {
      for (let j = 0; j < d; j++) row[j] = gaussian(rng);
      scale(row, 1 / norm(row));
    }),
  'varied-norms': (n, d, rng, queries) =>
    matrix(n, d, (row) => {
      for (let j = 0; j < d; j++) row[j] = gaussian(rng);
      if (!queries) scale(row, 0.2 + 4.8 * rng.next());
    }),
  'random-bert': (n, d, rng) => {
    const [mean, ...noise] = basis(d, 17, 7);
    return matrix(n, d, (row) => {
      for (let j = 0; j < d; j++) row[j] = 3.3 * Math.sqrt(d) * mean[j];
      for (const b of noise) {
        const c = 0.35 * gaussian(rng);
        for (let j = 0; j < d; j++) row[j] += c * Math.sqrt(d) * b[j];
      }
      for (let j = 0; j < d; j++) row[j] += 0.05 * gaussian(rng);
    });
  },
  'trained-like': (n, d, rng, queries) => {
    const axes = basis(d, 32, 11);
    const centers = Array.from({ length: 64 }, (_, c) => {
      const r = new Rng(1000 + c);
      return axes.map(() => gaussian(r));
    });
    return matrix(n, d, (row) => {
      const center = centers[rng.int(centers.length)];
      axes.forEach((axis, a) => {
        const c = center[a] + 0.6 * gaussian(rng);
        for (let j = 0; j < d; j++) row[j] += c * axis[j];
      });
      for (let j = 0; j < d; j++) row[j] += 0.05 * gaussian(rng);
      scale(row, (queries ? 1 : 0.8 + 0.45 * rng.next()) / norm(row));
    });
  },
};

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number.parseInt(process.argv[i + 1], 10) : fallback;
}

const n = flag('n', 3000);
const nq = flag('queries', 100);
const json = process.argv.includes('--json');
const CONFIGS = [
  { dim: 32, M: 16, efConstruction: 100 },
  { dim: 128, M: 16, efConstruction: 100 },
  { dim: 128, M: 48, efConstruction: 200 },
];
const EFS = [16, 64, 256, 1024];

const rows: Record<string, unknown>[] = [];
for (const [name, generate] of Object.entries(GENERATORS)) {
  for (const { dim, M, efConstruction } of CONFIGS) {
    const docs = generate(n, dim, new Rng(1), false);
    const queries = generate(nq, dim, new Rng(2), true);
    const ids = Array.from({ length: n }, (_, i) => `d${i}`);
    const exact = new ExactIndex({ dim, metric: 'ip' });
    await exact.add(docs, ids);
    for (const mipsTransform of [true, false]) {
      const hnsw = new HnswIndex({ dim, metric: 'ip', M, efConstruction, mipsTransform });
      await hnsw.add(docs, ids);
      const recall: number[] = [];
      for (const ef of EFS) recall.push(await measureRecall(hnsw, exact, queries, 10, { ef }));
      const row = {
        data: name,
        n,
        dim,
        M,
        efConstruction,
        space: `${mipsTransform ? 'l2-reduction' : 'ip'}${chooseMipsTransform(docs) === mipsTransform ? ' (auto)' : ''}`,
        recall,
      };
      rows.push(row);
      if (json) console.log(JSON.stringify(row));
      else
        console.log(
          `| ${name} | ${dim} | ${M}/${efConstruction} | ${row.space} | ${recall.map((r) => r.toFixed(3)).join(' | ')} |`,
        );
    }
  }
}
