import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runTsScript } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { ensureBuilt } from '../helpers/build.js';

// A tiny shape and tiny sizes: this checks what the suite reports, not how fast anything is.
const TINY = [
  '--cases',
  'train,encode,index,quantized,architectures',
  '--quick',
  '--json',
  '--no-reference',
  '--backend',
  'wasm',
  '--layers',
  '1',
  '--hidden',
  '32',
  '--heads',
  '2',
  '--intermediate',
  '64',
  '--train-seq',
  '8',
  '--train-batch',
  '2',
  '--encode-seq',
  '16',
  '--encode-batch',
  '4',
  '--encode-corpus',
  '20',
  '--encode-texts',
  '6',
  '--workers',
  '2',
  '--vectors',
  '200',
  '--queries',
  '12',
  '--dim',
  '16',
  '--ef',
  '10,40',
  '--ef-construction',
  '40',
];

function runBench(args: string[]): Promise<CliResult> {
  return runTsScript('benchmarks/run.ts', args);
}

const SHAPE_FIELDS = ['layers', 'hidden', 'heads', 'intermediate', 'seqLen', 'batchSize', 'vocab'];

test('--quick --json prints one JSON object per benchmark with shape and throughput, and saves them', async () => {
  const results = tmpDir('dr-bench-');
  const { code, stdout, stderr } = await runBench([...TINY, '--results-dir', results]);
  assert.equal(code, 0, stderr);
  const rows = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    rows.map((r) => [r.name, r.variant ?? r.ef ?? r.rescoreMultiplier ?? null]),
    [
      ['train-step', null],
      ['encode', 'thread'],
      ['encode', 'workers=2'],
      ['index-exact', null],
      ['index-hnsw', 10],
      ['index-hnsw', 40],
      ['index-int8', 1],
      ['index-int8', 2],
      ['index-int8', 4],
      ['index-int8', 10],
      ['index-int8', 20],
      ['index-int8', 40],
      ['index-binary', 1],
      ['index-binary', 4],
      ['index-binary', 10],
      ['encode-architectures', 'bert'],
      ['encode-architectures', 'roberta'],
      ['encode-architectures', 'distilbert'],
      ['encode-architectures', 'mpnet'],
      ['encode-architectures', 'modernbert'],
    ],
  );
  for (const r of rows) assert.equal(typeof r.backend, 'string');
  const [train, thread, workers, exact, ...rest] = rows;
  const hnsw = rest.filter((r) => r.name === 'index-hnsw');
  for (const r of rest.filter((x) => x.name === 'index-int8' || x.name === 'index-binary')) {
    assert.ok((r.qps as number) > 0 && (r.recallAt10 as number) > 0 && (r.recallAt10 as number) <= 1);
    // One add of the whole corpus allocates exactly: int8 16 bytes per 16-d vector (its raw size); binary
    // rows are padded to whole 32-bit words, 4 bytes for the 2 raw bytes of 16 bits (none at 384 dims).
    assert.equal(r.bytesPerVector, r.name === 'index-int8' ? 16 : 4);
    assert.equal(r.memoryRatio, r.name === 'index-int8' ? 1 : 2);
  }
  const families = rest.filter((r) => r.name === 'encode-architectures');
  for (const f of families) {
    assert.deepEqual([f.layers, f.hidden, f.seqLen, f.texts], [1, 32, 16, 6]);
    assert.ok((f.tokensPerSec as number) > 0 && (f.timePerTokenVsBert as number) > 0);
  }
  assert.equal(families[0].timePerTokenVsBert, 1);
  for (const r of [train, thread, workers]) {
    for (const f of SHAPE_FIELDS) assert.equal(typeof r[f], 'number', `${String(r.name)}.${f}`);
    assert.equal(r.backend, 'wasm');
  }
  assert.deepEqual(
    SHAPE_FIELDS.map((f) => train[f]),
    [1, 32, 2, 64, 8, 2, 30522],
  );
  assert.ok((train.pairsPerSec as number) > 0);
  assert.equal(train.tensorDelta, 0, 'a training step leaks no tensors');
  assert.equal(thread.seqLen, 16);
  assert.deepEqual([thread.texts, thread.corpusTexts, workers.workers], [6, 20, 2]);
  assert.ok((thread.textsPerSec as number) > 0 && (workers.textsPerSec as number) > 0);
  assert.deepEqual(
    [exact.vectors, exact.dim, exact.queries, exact.k, exact.recallAt10],
    [200, 16, 12, 10, 1],
  );
  assert.ok((exact.qps as number) > 0);
  for (const h of hnsw) {
    assert.ok((h.qps as number) > 0);
    assert.ok((h.recallAt10 as number) > 0 && (h.recallAt10 as number) <= 1);
  }
  // A wider beam never loses recall on the same graph.
  assert.ok((hnsw[1].recallAt10 as number) >= (hnsw[0].recallAt10 as number));
  assert.ok(
    rows.every((r) => r.ratio === undefined),
    'no reference was run, so no ratio',
  );

  const files = readdirSync(results).filter((f) => f.endsWith('.jsonl'));
  assert.equal(files.length, 1);
  const saved = readFileSync(path.join(results, files[0]), 'utf8').trim().split('\n');
  assert.deepEqual(
    saved.map((l) => JSON.parse(l) as Record<string, unknown>),
    rows,
  );
});

test('bad options are one clear line and exit code 2', async () => {
  const bad = await runBench(['--cases', 'train,fly']);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^bench: --cases: unknown case 'fly'; expected a list of train, encode, index, quantized, pgvector, startup, architectures, onnx\n/,
  );
  const zero = await runBench(['--steps', '0']);
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /^bench: --steps: expected a positive integer, got '0'\n/);
});

test('the startup case times the built CLI for --help and evaluate, next to node itself', async () => {
  ensureBuilt();
  const results = tmpDir('dr-bench-');
  const { code, stdout, stderr } = await runBench([
    '--cases',
    'startup',
    '--json',
    '--no-reference',
    '--startup-runs',
    '2',
    '--results-dir',
    results,
  ]);
  assert.equal(code, 0, stderr);
  const rows = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(
    rows.map((r) => [r.name, r.command, r.runs, r.targetSeconds]),
    [
      ['cli-startup', "node -e ''", 2, undefined],
      ['cli-startup', '--help', 2, 0.5],
      ['cli-startup', 'evaluate', 2, 0.5],
    ],
  );
  for (const r of rows) {
    assert.ok((r.seconds as number) > 0 && (r.bestSeconds as number) <= (r.seconds as number));
  }
});
