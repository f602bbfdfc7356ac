import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateRun } from '../../src/eval/metrics.js';
import { formatMeasureLine, inTrecOrder, parseMeasures } from '../../src/eval/measures.js';
import type { Qrels, Run } from '../../src/types.js';

// One query worked by hand. Ranking (scores descending): d1 (grade 0), d2 (1), d3 (-1: pooled, not
// judged), d5 (not in the qrels), d4 (2), d6 (0). Also judged: d7 (1, not retrieved), d8 (0).
// R = 3 relevant (d2, d4, d7); N = 3 judged non-relevant (d1, d6, d8).
const qrels: Qrels = new Map([
  [
    'q',
    new Map([
      ['d1', 0],
      ['d2', 1],
      ['d3', -1],
      ['d4', 2],
      ['d6', 0],
      ['d7', 1],
      ['d8', 0],
    ]),
  ],
]);
const run: Run = new Map([
  [
    'q',
    new Map([
      ['d1', 6],
      ['d2', 5],
      ['d3', 4],
      ['d5', 3],
      ['d4', 2],
      ['d6', 1],
    ]),
  ],
]);

function values(measures: string[]): Record<string, number> {
  return evaluateRun(qrels, run, measures).perQuery.get('q') as Record<string, number>;
}

test('bpref, Rprec, success, counts and judged@k equal hand-computed values', () => {
  const v = values(['bpref', 'Rprec', 'success.1,5', 'num_ret', 'num_rel', 'num_rel_ret', 'judged@5,10']);
  // d2 and d4 each have one judged non-relevant document above: 1 - min(1, 3) / min(3, 3).
  assert.ok(Math.abs(v.bpref - (2 * (2 / 3)) / 3) < 1e-15, String(v.bpref));
  assert.equal(v.Rprec, 1 / 3); // top R = 3 holds d2 only
  assert.equal(v.success_1, 0);
  assert.equal(v.success_5, 1);
  assert.deepEqual([v.num_ret, v.num_rel, v.num_rel_ret], [6, 3, 2]);
  assert.equal(v['judged@5'], 4 / 5); // d5 is the one unjudged document in the top 5
  assert.equal(v['judged@10'], 5 / 10); // divided by k, as ir_measures
});

test('infAP counts pooled-unjudged documents above as trec_eval m_infap.c does', () => {
  const eps = 1e-5;
  // d2 at rank index 1 (one non-relevant above); d4 at index 4 (r=1, n=1, u=1 above; d5 is outside the pool).
  const d2 = 1 / 2 + (1 / 2) * (1 / 1) * (eps / (1 + 2 * eps));
  const d4 = 1 / 5 + (4 / 5) * (3 / 4) * ((1 + eps) / (2 + 2 * eps));
  assert.ok(Math.abs(values(['infAP']).infAP - (d2 + d4) / 3) < 1e-15);
});

test('iprec_at_recall rounds level * R half away from zero (C lround) and is 0 beyond the reached recall', () => {
  const v = values(['iprec_at_recall']);
  // Precision at the relevant ranks: 1/2 (d2, rank 2), 2/5 (d4, rank 5); R = 3, so levels 0.5..0.8
  // need 2 relevant documents (0.5 * 3 = 1.5 rounds to 2) and 0.9, 1.0 need 3, which are never reached.
  const expected = [0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0, 0];
  const keys = Object.keys(v);
  assert.deepEqual(keys, [
    'iprec_at_recall_0.00',
    'iprec_at_recall_0.10',
    'iprec_at_recall_0.20',
    'iprec_at_recall_0.30',
    'iprec_at_recall_0.40',
    'iprec_at_recall_0.50',
    'iprec_at_recall_0.60',
    'iprec_at_recall_0.70',
    'iprec_at_recall_0.80',
    'iprec_at_recall_0.90',
    'iprec_at_recall_1.00',
  ]);
  assert.deepEqual(
    keys.map((k) => v[k]),
    expected,
  );
});

test('ndcg_burges uses gain 2^grade - 1', () => {
  const dcg = 1 / Math.log2(3) + 3 / Math.log2(6);
  const ideal = 3 + 1 / Math.log2(3) + 1 / Math.log2(4);
  assert.ok(Math.abs(values(['ndcg_burges@5'])['ndcg_burges@5'] - dcg / ideal) < 1e-15);
});

test('gm_map: log of AP per query with a 1e-5 floor, geometric mean over queries, floor for -c queries', () => {
  const two: Qrels = new Map([...qrels, ['z', new Map([['x', 1]])], ['missing', new Map([['y', 1]])]]);
  const runs: Run = new Map([...run, ['z', new Map([['w', 1]])]]);
  const ap = (1 / 2 + 2 / 5) / 3;
  const plain = evaluateRun(two, runs, ['gm_map', 'map', 'num_q', 'num_rel']);
  assert.equal(plain.perQuery.get('z')?.gm_map, Math.log(1e-5));
  assert.ok(Math.abs(plain.mean.gm_map - Math.sqrt(ap * 1e-5)) < 1e-15);
  assert.deepEqual([plain.mean.num_q, plain.mean.num_rel], [2, 4]);
  const complete = evaluateRun(two, runs, ['gm_map', 'num_q', 'num_rel', 'num_ret'], { complete: true });
  assert.ok(Math.abs(complete.mean.gm_map - Math.cbrt(ap * 1e-5 * 1e-5)) < 1e-15);
  assert.deepEqual([complete.mean.num_q, complete.mean.num_rel, complete.mean.num_ret], [3, 5, 7]);
});

test('all_trec lists the supported trec_eval measures in trec_eval order; counts print as integers', () => {
  const keys = inTrecOrder(parseMeasures(['all_trec'])).map((s) => s.key);
  assert.deepEqual(keys.slice(0, 9), [
    'num_q',
    'num_ret',
    'num_rel',
    'num_rel_ret',
    'map',
    'gm_map',
    'Rprec',
    'bpref',
    'recip_rank',
  ]);
  assert.equal(keys.length, 9 + 11 + 9 + 9 + 1 + 1 + 9 + 9 + 3);
  assert.deepEqual(keys.slice(-4), ['map_cut_1000', 'success_1', 'success_5', 'success_10']);
  assert.ok(!keys.some((k) => k.includes('@')), 'no non-trec_eval measure in all_trec');
  const [numRel] = parseMeasures(['num_rel']);
  assert.equal(formatMeasureLine(numRel, 'all', 429), 'num_rel               \tall\t429');
  assert.deepEqual(
    inTrecOrder(parseMeasures(['ndcg_cut.10', 'P.10,5', 'map', 'judged@10'])).map((s) => s.key),
    ['map', 'P_5', 'P_10', 'ndcg_cut_10', 'judged@10'],
  );
  assert.throws(() => parseMeasures(['judged']), /unsupported measure 'judged'/);
});
