/**
 * By-hand measurement for docs/index-tuning.md (issue 17): what `buildTunedHnsw` / `index build
 * --target-recall` chooses on structured unit vectors (intrinsic dimension 32 in 384-d, as the benchmark's
 * `--rank 32`) and on the same vectors with varied norms (DPR-style dot-product embeddings, metric ip),
 * and the recall/QPS curve over `ef` on held-out queries. Kept small (CPU is shared): n vectors, 200 queries.
 *
 *   node --import tsx scripts/measure-tuning.ts [n]
 */
import { lowRankUnitVectors, randomUnitVectors } from '../benchmarks/lib/index-search.js';
import { ExactIndex } from '../src/index/exact.js';
import { recallOfResults } from '../src/index/recall.js';
import { buildTunedHnsw } from '../src/index/tune-build.js';
import type { Matrix } from '../src/types.js';
import { Rng } from '../src/util/random.js';

const n = Number(process.argv[2] ?? 10000);
const dim = 384;
const rng = new Rng(17);
const basis = randomUnitVectors(dim, 32, rng);
const unit = lowRankUnitVectors(n, dim, 32, basis, rng);
const queries = lowRankUnitVectors(200, dim, 32, basis, rng);
// Varied norms: each document scaled by a factor in [0.5, 2), as unnormalised dot-product embeddings.
const varied: Matrix = { data: Float32Array.from(unit.data), rows: n, cols: dim };
for (let r = 0; r < n; r++) {
  const s = 0.5 + 1.5 * rng.next();
  for (let j = 0; j < dim; j++) varied.data[r * dim + j] *= s;
}
const ids = Array.from({ length: n }, (_, i) => String(i));

for (const [label, docs, metric] of [
  ['unit vectors, cosine', unit, 'cosine'],
  ['varied norms, ip', varied, 'ip'],
] as const) {
  const t0 = performance.now();
  const index = await buildTunedHnsw(docs, ids, { metric, targetRecall: 0.98, efConstruction: 200 });
  const buildSeconds = (performance.now() - t0) / 1000;
  const t = index.tuning!;
  console.log(
    `${label}: ${n} x ${dim}: chose M ${t.M} ef ${t.ef}, held-out recall@10 ${t.recall.toFixed(3)} ` +
      `(lower bound ${t.recallLowerBound.toFixed(3)}), ${buildSeconds.toFixed(1)} s including the tuning`,
  );
  const exact = new ExactIndex({ dim, metric });
  await exact.add(docs, ids);
  let s0 = performance.now();
  const truth = await exact.search(queries, 10);
  console.log(`  exact: ${(200 / ((performance.now() - s0) / 1000)).toFixed(0)} QPS`);
  console.log('  ef | recall@10 (new queries) | QPS');
  for (const ef of [10, 16, 24, 32, 48, 64, 96, 128, 192, 256]) {
    s0 = performance.now();
    const got = await index.search(queries, 10, { ef });
    const qps = 200 / ((performance.now() - s0) / 1000);
    console.log(`  ${ef} | ${recallOfResults(got.ids, truth.ids, 10).toFixed(3)} | ${qps.toFixed(0)}`);
  }
}
