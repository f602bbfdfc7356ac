import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { evaluateRun } from '../../src/eval/metrics.js';
import { readQrels } from '../../src/data/qrels.js';
import { readRun } from '../../src/data/run.js';
import { REPO_ROOT } from '../helpers/cli.js';

// Parity with the independent Python reference of scripts/make_trec_fixtures.py (see the fixture README).
const DIR = path.join(REPO_ROOT, 'test/fixtures/trec_eval');

interface Expected {
  measures: string[];
  perQuery: Record<string, Record<string, number>>;
  mean: Record<string, number>;
  meanComplete: Record<string, number>;
  perQueryIgnoreIdenticalIds: Record<string, Record<string, number>>;
  meanIgnoreIdenticalIds: Record<string, number>;
}

function assertClose(actual: Record<string, number>, expected: Record<string, number>, where: string): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort(), where);
  for (const [key, value] of Object.entries(expected)) {
    // 1e-9 is far tighter than trec_eval's 4 printed decimals; only summation order differs.
    assert.ok(Math.abs(actual[key] - value) < 1e-9, `${where} ${key}: got ${actual[key]}, expected ${value}`);
  }
}

for (const [name, qrelsFile] of [
  ['cranfield', 'cranfield.qrels'],
  ['synthetic', 'synthetic.tsv'],
] as const) {
  test(`${name}: per-query and mean values equal the reference implementation`, async () => {
    const expected = JSON.parse(readFileSync(path.join(DIR, `${name}.expected.json`), 'utf8')) as Expected;
    const qrels = await readQrels(path.join(DIR, qrelsFile));
    const run = await readRun(path.join(DIR, `${name}.run`));
    const plain = evaluateRun(qrels, run, expected.measures);
    assert.deepEqual([...plain.perQuery.keys()].sort(), Object.keys(expected.perQuery).sort());
    for (const [qid, values] of Object.entries(expected.perQuery)) {
      assertClose(plain.perQuery.get(qid) as Record<string, number>, values, `${name} ${qid}`);
    }
    assertClose(plain.mean, expected.mean, `${name} mean`);

    const complete = evaluateRun(qrels, run, expected.measures, { complete: true });
    assertClose(complete.mean, expected.meanComplete, `${name} -c mean`);
    assert.ok(complete.mean.map < plain.mean.map, 'missing queries must pull the -c mean down');
    const missing = [...qrels.keys()].filter((q) => !plain.perQuery.has(q));
    assert.ok(missing.length > 0);
    assert.deepEqual([...(complete.perQueryMissing ?? new Map()).keys()].sort(), missing.sort());
    assert.equal(plain.perQueryMissing, undefined);

    const ident = evaluateRun(qrels, run, expected.measures, { ignoreIdenticalIds: true });
    for (const [qid, values] of Object.entries(expected.perQueryIgnoreIdenticalIds)) {
      assertClose(
        ident.perQuery.get(qid) as Record<string, number>,
        values,
        `${name} ${qid} ignoreIdenticalIds`,
      );
    }
    assertClose(ident.mean, expected.meanIgnoreIdenticalIds, `${name} ignoreIdenticalIds mean`);
  });
}

test('synthetic: ignoreIdenticalIds changes the query that retrieves its own id', async () => {
  const expected = JSON.parse(readFileSync(path.join(DIR, 'synthetic.expected.json'), 'utf8')) as Expected;
  assert.notEqual(expected.perQuery.q3.ndcg_cut_10, expected.perQueryIgnoreIdenticalIds.q3.ndcg_cut_10);
});
