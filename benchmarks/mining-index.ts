/**
 * Which index should hard-negative mining search with (`denseMiningRetriever`'s `index: 'auto'`)? A mining
 * run searches each training query once, so HNSW's build cost is paid for one pass of queries: this times
 * an exact search of `--queries` queries against building HNSW (M 16, efConstruction 100, as the miner
 * builds it) plus searching it (ef = 2 x depth), on clustered unit vectors (synthetic, seeded), and prints
 * the per-document build cost and the per-(query x document) exact cost whose ratio is the crossover.
 *
 * Run by hand (minutes at the default sizes; keep it small on shared machines):
 *
 *     node --import tsx benchmarks/mining-index.ts [--docs 5000,20000] [--queries 1000] [--dim 384] [--k 60]
 *
 * The cost model of `chooseMiningIndex` (src/train/mining-retriever.ts) comes from this script.
 */
import { parseArgs } from 'node:util';
import { initBackend } from '../src/backend/index.js';
import { ExactIndex } from '../src/index/exact.js';
import { HnswIndex } from '../src/index/hnsw.js';
import type { Matrix } from '../src/types.js';
import { Rng } from '../src/util/random.js';

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '5000,20000' },
    queries: { type: 'string', default: '1000' },
    dim: { type: 'string', default: '384' },
    k: { type: 'string', default: '60' },
  },
});
const sizes = values.docs.split(',').map(Number);
const nq = Number(values.queries);
const dim = Number(values.dim);
const k = Number(values.k);

function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** Unit rows around 64 cluster centres (the structure of trained retrieval embeddings). */
function clustered(n: number, rng: Rng, centres: Float32Array[]): Matrix {
  const data = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[rng.int(centres.length)];
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const v = c[j] + 0.6 * gaussian(rng);
      data[i * dim + j] = v;
      s += v * v;
    }
    for (let j = 0; j < dim; j++) data[i * dim + j] /= Math.sqrt(s);
  }
  return { data, rows: n, cols: dim };
}

const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

await initBackend();
const rng = new Rng(7);
const centres = Array.from({ length: 64 }, () =>
  Float32Array.from({ length: dim }, () => (gaussian(rng) / Math.sqrt(dim)) * 3),
);
console.log(
  'docs    queries  exact search s  hnsw build s  hnsw search s  build us/doc  exact ns/(query*doc)  crossover queries',
);
for (const n of sizes) {
  const docs = clustered(n, rng, centres);
  const ids = Array.from({ length: n }, (_, i) => `d${i}`);
  const queries = clustered(nq, rng, centres);
  const exact = new ExactIndex({ dim, metric: 'cosine', capacity: n });
  await exact.add(docs, ids);
  let t0 = process.hrtime.bigint();
  await exact.search(queries, k);
  const exactS = seconds(t0);
  const hnsw = new HnswIndex({ dim, metric: 'cosine', capacity: n, M: 16, efConstruction: 100 });
  t0 = process.hrtime.bigint();
  await hnsw.add(docs, ids);
  const buildS = seconds(t0);
  t0 = process.hrtime.bigint();
  await hnsw.search(queries, k, { ef: 2 * k });
  const searchS = seconds(t0);
  const perDoc = buildS / n;
  const perPair = exactS / (nq * n);
  // Queries at which exact search costs as much as building and searching the graph.
  const crossover = perDoc / (perPair - searchS / nq / n);
  console.log(
    [
      n,
      nq,
      exactS.toFixed(2),
      buildS.toFixed(2),
      searchS.toFixed(2),
      (perDoc * 1e6).toFixed(0),
      (perPair * 1e9).toFixed(2),
      crossover.toFixed(0),
    ]
      .map(String)
      .join('  '),
  );
}
