import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { miniBeir, TINY_BERT as TINY } from '../helpers/mini-beir.js';
import { tmpDir } from '../helpers/tmp.js';

test('evaluate-model prints the side-by-side table and writes the runs', async () => {
  const dir = tmpDir();
  const data = await miniBeir(path.join(dir, 'beir'));
  const config = path.join(dir, 'config.json');
  await fs.writeFile(config, JSON.stringify(TINY));
  const prefix = path.join(dir, 'runs', 'mini');
  const r = await runCli([
    'evaluate-model',
    '--model',
    `scratch:${config}`,
    '--data',
    data,
    '--ef',
    '20,40',
    '--k',
    '20',
    '--max-length',
    '32',
    '--run-out',
    prefix,
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^index\s+nDCG@10\s+MRR@10\s+R@100\s+MAP@100\s+R@10 vs exact$/);
  assert.match(lines[1], /^exact(\s+\d\.\d{4}†?){4}\s+-$/);
  assert.match(lines[2], /^hnsw ef=20(\s+\d\.\d{4}†?){5}$/);
  assert.match(lines[3], /^hnsw ef=40(\s+\d\.\d{4}†?){5}$/);
  assert.match(lines[4], /^bm25(\s+\d\.\d{4}†?){4}\s+-$/);
  // BM25 finds each topic's first document among the top 10 of 40, so it cannot score near zero.
  assert.ok(Number(lines[4].split(/\s+/)[1].replace('†', '')) > 0.2, lines[4]);
  assert.match(r.stdout, /40 documents, 6 queries, depth 20/);
  const runs = (await fs.readdir(path.join(dir, 'runs'))).sort();
  assert.deepEqual(runs, ['mini.bm25.run', 'mini.exact.run', 'mini.hnsw-ef20.run', 'mini.hnsw-ef40.run']);
});

test('evaluate-model: bm25 needs no model; usage errors exit 2', async () => {
  const dir = tmpDir();
  const data = await miniBeir(path.join(dir, 'beir'));
  let r = await runCli(['evaluate-model', '--data', data, '--index', 'bm25']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^bm25\s/m);
  r = await runCli(['evaluate-model', '--data', data]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /missing required option --model \(needed by --index exact,hnsw,bm25\)/);
  // Beam flags with no beam index among --index are usage errors, not depth complaints.
  r = await runCli(['evaluate-model', '--data', data, '--index', 'exact', '--ef', '50', '--model', dir]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--ef applies to --index hnsw and pgvector only \(not exact\)/);
  r = await runCli(['evaluate-model', '--data', data, '--index', 'bm25', '--mips-transform', 'on']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--mips-transform applies to --index hnsw only \(not bm25\)/);
  r = await runCli(['evaluate-model', '--data', data, '--index', 'bm25,faiss']);
  assert.match(r.stderr, /--index: unknown index 'faiss'/);
  r = await runCli(['evaluate-model', '--data', data, '--index', 'bm25', '--split', 'dev']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no split 'dev' in BEIR dataset/);
});
