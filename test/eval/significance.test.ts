import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import {
  compareRuns,
  correctPValues,
  pairedTTest,
  randomizationTest,
  wilcoxonTest,
} from '../../src/eval/significance.js';
import { evaluateRun } from '../../src/eval/metrics.js';
import type { Qrels, Run } from '../../src/types.js';
import { REPO_ROOT } from '../helpers/cli.js';

// Reference values from scipy (scripts/make_significance_fixtures.py, Debian python3-scipy).
interface Case {
  name: string;
  x: number[];
  y: number[];
  ttest: { statistic: number; pvalue: number; df: number; ci: [number, number] };
  wilcoxon: { statistic: number; pvalue: number };
  exactRandomization?: number;
}
const fixture = JSON.parse(
  readFileSync(path.join(REPO_ROOT, 'test/fixtures/significance/scipy.json'), 'utf8'),
) as { cases: Case[] };

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);
}

test('paired t-test equals scipy ttest_rel (statistic, p-value, 95 % CI) to 1e-6', () => {
  for (const c of fixture.cases) {
    const r = pairedTTest(c.x, c.y);
    close(r.statistic, c.ttest.statistic, 1e-6, `${c.name} t`);
    close(r.pValue, c.ttest.pvalue, 1e-6, `${c.name} p`);
    assert.equal(r.df, c.ttest.df);
    close(r.ci95[0], c.ttest.ci[0], 1e-6, `${c.name} ci low`);
    close(r.ci95[1], c.ttest.ci[1], 1e-6, `${c.name} ci high`);
  }
});

test('Wilcoxon equals scipy wilcoxon defaults on exact, enumerated and normal-approximation cases', () => {
  const methods = new Set<string>();
  for (const c of fixture.cases) {
    const r = wilcoxonTest(c.x, c.y);
    methods.add(r.method);
    close(r.statistic, c.wilcoxon.statistic, 1e-9, `${c.name} W`);
    close(r.pValue, c.wilcoxon.pvalue, 1e-6, `${c.name} p (${r.method})`);
  }
  assert.deepEqual(
    [...methods].sort(),
    ['asymptotic', 'exact', 'permutation'],
    'fixtures cover all three paths',
  );
});

test('randomization test is seeded, reproducible, and within Monte-Carlo error of the exact p-value', () => {
  const small = fixture.cases.filter((c) => c.exactRandomization !== undefined);
  assert.ok(small.length >= 2);
  for (const c of small) {
    const permutations = 20000;
    const a = randomizationTest(c.x, c.y, { permutations, seed: 7 });
    const b = randomizationTest(c.x, c.y, { permutations, seed: 7 });
    assert.deepEqual(a, b, 'same seed, same result');
    const exact = c.exactRandomization as number;
    const sd = Math.sqrt((exact * (1 - exact)) / permutations);
    close(a.pValue, exact, 4 * sd + 2 / permutations, `${c.name} randomization vs exact ${exact}`);
  }
  const c = small[0];
  assert.notEqual(
    randomizationTest(c.x, c.y, { permutations: 2000, seed: 1 }).pValue,
    randomizationTest(c.x, c.y, { permutations: 2000, seed: 2 }).pValue,
    'another seed draws other permutations',
  );
});

test('Holm and Bonferroni corrections equal hand-computed values', () => {
  assert.deepEqual(correctPValues([0.01, 0.04, 0.03], 'bonferroni'), [0.03, 0.12, 0.09]);
  // Sorted 0.01, 0.03, 0.04 -> 3 * 0.01, 2 * 0.03, max(0.06, 1 * 0.04).
  const holm = correctPValues([0.01, 0.04, 0.03], 'holm');
  [0.03, 0.06, 0.06].forEach((v, i) => close(holm[i], v, 1e-15, `holm ${i}`));
  assert.deepEqual(correctPValues([0.5, 0.9], 'holm'), [1, 1]);
  assert.deepEqual(correctPValues([0.2, 0.3], 'none'), [0.2, 0.3]);
});

test('all-zero differences give p = 1 rather than scipy NaN', () => {
  assert.equal(pairedTTest([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]).pValue, 1);
  assert.equal(wilcoxonTest([0.1, 0.2, 0.3], [0.1, 0.2, 0.3]).pValue, 1);
});

function makeRun(scores: Record<string, Record<string, number>>): Run {
  return new Map(Object.entries(scores).map(([q, docs]) => [q, new Map(Object.entries(docs))]));
}

test('compareRuns: shared queries, baseline pairs, corrected p-values and the mean difference', () => {
  const qrels: Qrels = new Map();
  const good: Record<string, Record<string, number>> = {};
  const bad: Record<string, Record<string, number>> = {};
  for (let i = 0; i < 30; i++) {
    qrels.set(`q${i}`, new Map([[`rel${i}`, 1]]));
    good[`q${i}`] = { [`rel${i}`]: 2, x: 1 }; // relevant first: RR 1
    bad[`q${i}`] = { [`rel${i}`]: i % 3 === 0 ? 2 : 1, x: 1.5 }; // relevant second on 2 of 3 queries
  }
  const partial = { ...good };
  delete partial.q0; // a run without q0: not shared unless complete
  const runs = new Map([
    ['bad', makeRun(bad)],
    ['good', makeRun(good)],
    ['partial', makeRun(partial)],
  ]);
  const result = compareRuns(qrels, runs, {
    measure: 'recip_rank',
    baseline: 'bad',
    correction: 'bonferroni',
  });
  assert.equal(result.queries.length, 29);
  assert.equal(result.measure, 'recip_rank');
  const badMean = evaluateRun(qrels, makeRun(bad), ['recip_rank']).perQuery;
  const expectedBad = result.queries.reduce((a, q) => a + (badMean.get(q)?.recip_rank ?? 0), 0) / 29;
  close(result.runs[0].mean, expectedBad, 1e-12, 'baseline mean over shared queries');
  assert.deepEqual(
    result.pairs.map((p) => [p.baseline, p.run]),
    [
      ['bad', 'good'],
      ['bad', 'partial'],
    ],
  );
  const pair = result.pairs[0];
  close(pair.meanDifference, 1 - expectedBad, 1e-12, 'mean difference');
  const t = pairedTTest(result.runs[1].perQuery, result.runs[0].perQuery);
  close(pair.pValue, t.pValue, 0, 'paired-t p');
  close(pair.pValueCorrected, Math.min(1, 2 * t.pValue), 1e-15, 'bonferroni over 2 pairs');
  assert.ok(pair.significant);
  assert.ok(pair.ci95[0] < pair.meanDifference && pair.meanDifference < pair.ci95[1]);

  const complete = compareRuns(qrels, runs, { measure: 'recip_rank', complete: true, test: 'wilcoxon' });
  assert.equal(complete.queries.length, 30);
  assert.equal(complete.runs[2].perQuery[complete.queries.indexOf('q0')], 0, 'missing query scores 0');
  assert.equal(complete.pairs.length, 3, 'all pairs without a baseline');

  const r1 = compareRuns(qrels, runs, {
    measure: 'recip_rank',
    test: 'randomization',
    seed: 3,
    permutations: 500,
  });
  const r2 = compareRuns(qrels, runs, {
    measure: 'recip_rank',
    test: 'randomization',
    seed: 3,
    permutations: 500,
  });
  assert.deepEqual(r1, r2);

  for (const [options, pattern] of [
    [{ measure: 'P.5,10' }, /must name one measure/],
    [{ measure: 'num_rel' }, /count over queries/],
    [{ measure: 'map', baseline: 'nope' }, /'nope' is not one of the runs/],
    [{ measure: 'map', test: 'sign' }, /unknown test 'sign'/],
  ] as const) {
    assert.throws(
      () => compareRuns(qrels, runs, options as never),
      (e: unknown) => e instanceof ArgumentError && pattern.test(e.message),
    );
  }
});
