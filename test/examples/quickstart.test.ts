import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBeir } from '../../src/data/beir.js';
import { grab, runExample } from './run-example.js';

test('quickstart trains, indexes, searches and scores SciFact end to end', async () => {
  const { code, stdout, stderr } = await runExample('quickstart', ['--steps', '3', '--docs', '60']);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^backend: (wasm|cpu|tensorflow|tensorflow-gpu)$/m);

  // 32 random-init embeddings are near-identical, so the first in-batch loss is close to chance, ln 32.
  const [first, last] = grab(stdout, /^loss: step 1 ([\d.]+), step 3 ([\d.]+)$/m).map(Number);
  assert.ok(Math.abs(first - Math.log(32)) < 0.3, `first loss ${first}`);
  assert.ok(Number.isFinite(last) && last > 0, `last loss ${last}`);

  // --docs keeps the first 60 documents plus every document judged for a test query.
  const scifact = await loadBeir('examples/data/scifact', { split: 'test' });
  const judged = new Set([...scifact.qrels.values()].flatMap((d) => [...d.keys()]));
  const kept = scifact.corpus.filter((d, i) => i < 60 || judged.has(d.id));
  const [ndcg, queries, docs] = grab(stdout, /^nDCG@10: ([\d.]+) \((\d+) queries, (\d+) docs\)$/m).map(
    Number,
  );
  assert.equal(queries, scifact.queries.size);
  assert.equal(docs, kept.length);
  assert.ok(ndcg >= 0 && ndcg <= 1, `nDCG ${ndcg}`);

  const [topHit] = grab(stdout, /^top hit for ".*": (\S+)$/m);
  assert.ok(
    kept.some((d) => d.id === topHit),
    `top hit ${topHit} is not in the indexed corpus`,
  );
});

test('quickstart rejects a bad --steps with the argument named', async () => {
  const { code, stderr } = await runExample('quickstart', ['--steps', 'zero', '--docs', '10']);
  assert.notEqual(code, 0);
  assert.match(stderr, /ArgumentError: steps: must be an integer >= 1, got NaN/);
});
