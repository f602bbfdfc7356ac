/**
 * By-hand measurement behind `defaultEfSearch` (src/index/hnsw-defaults.ts, docs/index-tuning.md, issue 17):
 * for growing corpus sizes, the smallest query beam `ef` whose recall@10 against exact search reaches 0.98
 * on held-out queries (fresh vectors of the same distribution, never added to the index).
 *
 * One index is built incrementally and measured at each checkpoint size: HNSW inserts one vector at a
 * time, so the graph at a checkpoint is the graph a build of that many vectors makes (same order, same
 * seed), and one build of the largest size costs what the largest alone would (a 100k M-48 build is ~15
 * CPU-minutes on the project's machines, so the 100k point is the recorded one in the docs).
 *
 *   node --import tsx scripts/measure-default-ef.ts random|rank32 [maxN=50000] [M=48] [queries=300] [seed=1717] [check]
 *
 * Prints one line per checkpoint and a closing table: smallest ef whose mean recall@10 reaches 0.98 and
 * smallest whose one-sided 95 % lower bound (mean - 1.645 standard errors over queries) does. With
 * `check` (use another seed than the fit's), it instead measures recall@10 at the beam `defaultEfSearch`
 * gives each size, and at that beam without the margin: the rule's validation on data it was not fitted to.
 */
import { lowRankUnitVectors, randomUnitVectors } from '../benchmarks/lib/index-search.js';
import { ExactIndex } from '../src/index/exact.js';
import { HnswIndex } from '../src/index/hnsw.js';
import { DEFAULT_EF_MARGIN, defaultEfSearch } from '../src/index/hnsw-defaults.js';
import type { Matrix } from '../src/types.js';
import { Rng } from '../src/util/random.js';

const kind = process.argv[2] ?? 'random';
if (kind !== 'random' && kind !== 'rank32')
  throw new Error(`data kind must be random or rank32, got ${kind}`);
const maxN = Number(process.argv[3] ?? 50000);
const M = Number(process.argv[4] ?? 48);
const nq = Number(process.argv[5] ?? 300);
const seed = Number(process.argv[6] ?? 1717);
const check = process.argv[7] === 'check';
const dim = 384;
const k = 10;
const target = 0.98;
const CHECKPOINTS = [1000, 2000, 5000, 10000, 20000, 50000, 100000].filter((n) => n <= maxN);
// Beams 2^(i/4), rounded: steps of ~19 %, fine enough that the answer is within one step of the truth.
const LADDER = [...new Set(Array.from({ length: 45 }, (_, i) => Math.round(10 * 2 ** (i / 4))))];

const rng = new Rng(seed);
const basis = kind === 'rank32' ? randomUnitVectors(dim, 32, rng) : undefined;
const draw = (rows: number): Matrix =>
  basis === undefined ? randomUnitVectors(rows, dim, rng) : lowRankUnitVectors(rows, dim, 32, basis, rng);
const queries = draw(nq);

// A check also draws another graph (level generator seed); the fit used HnswIndex's default, 100.
const hnsw = new HnswIndex({
  dim,
  metric: 'cosine',
  M,
  efConstruction: 200,
  capacity: maxN,
  seed: check ? seed : 100,
});
const exact = new ExactIndex({ dim, metric: 'cosine', capacity: maxN });

function recallPerQuery(got: string[][], want: string[][]): { mean: number; lower: number } {
  const per = want.map((truth, i) => {
    const t = new Set(truth);
    return got[i].filter((id) => t.has(id)).length / k;
  });
  const mean = per.reduce((a, b) => a + b, 0) / per.length;
  const variance = per.reduce((a, b) => a + (b - mean) ** 2, 0) / (per.length - 1);
  return { mean, lower: mean - 1.645 * Math.sqrt(variance / per.length) };
}

const rows: string[] = [];
let start = 0;
let built = 0;
let buildSeconds = 0;
const t0 = performance.now();
for (const n of CHECKPOINTS) {
  const b0 = performance.now();
  while (built < n) {
    const step = Math.min(1000, n - built);
    const batch = draw(step);
    const ids = Array.from({ length: step }, (_, i) => String(built + i));
    await hnsw.add(batch, ids);
    await exact.add(batch, ids);
    built += step;
  }
  buildSeconds += (performance.now() - b0) / 1000;
  const truth = (await exact.search(queries, k)).ids;
  if (check) {
    const ef = defaultEfSearch(n, k);
    const cells = [];
    for (const e of [ef, Math.round(ef / DEFAULT_EF_MARGIN)]) {
      const r = recallPerQuery((await hnsw.search(queries, k, { ef: e })).ids, truth);
      cells.push(`ef ${e}: ${r.mean.toFixed(3)} (lower bound ${r.lower.toFixed(3)})`);
    }
    console.log(`${kind} n=${n} M=${M} seed ${seed}: default ${cells[0]}; without the margin ${cells[1]}`);
    rows.push(`| ${n} | ${kind} | ${M} | ${cells.join(' | ')} |`);
    continue;
  }
  let meanEf: number | undefined;
  let lowerEf: number | undefined;
  const curve: string[] = [];
  for (const ef of LADDER.filter((e) => e >= Math.max(k, start))) {
    const s0 = performance.now();
    const got = (await hnsw.search(queries, k, { ef })).ids;
    const qps = nq / ((performance.now() - s0) / 1000);
    const r = recallPerQuery(got, truth);
    curve.push(`${ef}: ${r.mean.toFixed(3)}/${r.lower.toFixed(3)} (${qps.toFixed(0)} QPS)`);
    if (meanEf === undefined && r.mean >= target) meanEf = ef;
    if (r.lower >= target) {
      lowerEf = ef;
      break;
    }
  }
  // The next size needs at least about this beam; start a little below it (recall is noisy per step).
  start = Math.floor((meanEf ?? start) / 1.5);
  console.log(
    `${kind} n=${n} M=${M}: ef(mean>=${target})=${meanEf} ef(lower>=${target})=${lowerEf} ` +
      `build so far ${buildSeconds.toFixed(0)} s, elapsed ${((performance.now() - t0) / 1000).toFixed(0)} s\n  ` +
      curve.join('\n  '),
  );
  rows.push(`| ${n} | ${kind} | ${M} | ${meanEf ?? '-'} | ${lowerEf ?? '-'} |`);
}
console.log(
  check
    ? '\n| n | data | M | recall@10 at defaultEfSearch | at defaultEfSearch / margin |'
    : `\n| n | data | M | smallest ef, mean recall@10 >= ${target} | smallest ef, 95 % lower bound >= ${target} |`,
);
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
