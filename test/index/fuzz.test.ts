import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { Bm25Index } from '../../src/index/bm25.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { BinaryIndex } from '../../src/index/binary.js';
import { Int8Index } from '../../src/index/int8.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import type { FuzzJob, FuzzReport } from './fuzz-worker.js';
import { FIXTURES, ids, randomMatrix } from './helpers.js';

/*
 * Seeded byte-flip fuzzing of every index kind: each mutant must load to a typed error or (for a file whose
 * checksums still hold) the unchanged result, and never crash the process. Loads run in a child process
 * per batch, so a segfault or abort shows up here as a signal instead of killing the test runner. Bounded:
 * a fixed number of mutations per batch, no timing.
 */

const dir = tmpDir();
type Kind = 'exact' | 'hnsw' | 'bm25' | 'int8' | 'binary';
const files: Record<Kind, string> = {
  exact: path.join(dir, 'fuzz.exact'),
  hnsw: path.join(dir, 'fuzz.hnsw'),
  bm25: path.join(dir, 'fuzz.bm25'),
  int8: path.join(dir, 'fuzz.int8'),
  binary: path.join(dir, 'fuzz.binary'),
};
const vectorQueries = randomMatrix(3, 8, 7);
const textQueries = ['cats purr', 'birds sing', 'dogs'];
const expected: Partial<Record<string, FuzzJob['expected']>> = {};

before(async () => {
  const docs = randomMatrix(60, 8, 5);
  const exact = new ExactIndex({ dim: 8, metric: 'cosine' });
  await exact.add(docs, ids(60));
  await exact.save(files.exact);
  expected.exact = await exact.search(vectorQueries, 5);
  const hnsw = new HnswIndex({ dim: 8, metric: 'ip', M: 4, efConstruction: 16 });
  await hnsw.add(docs, ids(60));
  await hnsw.save(files.hnsw);
  expected.hnsw = await hnsw.search(vectorQueries, 5);
  // The quantized kinds with every optional section: int8's calibration ranges, binary's kept vectors.
  const int8 = new Int8Index({ dim: 8, metric: 'cosine', calibration: docs });
  await int8.add(docs, ids(60));
  await int8.save(files.int8);
  expected.int8 = await int8.search(vectorQueries, 5);
  const binary = new BinaryIndex({ dim: 8, metric: 'ip', keepVectors: true });
  await binary.add(docs, ids(60));
  await binary.save(files.binary);
  expected.binary = await binary.search(vectorQueries, 5);
  const bm25 = new Bm25Index();
  bm25.addDocuments([
    { id: 'd1', title: 'Cats', text: 'Cats purr when they are happy.' },
    { id: 'd2', title: '', text: 'Dogs bark at cats.' },
    { id: 'd3', title: 'Birds', text: 'Birds sing in the morning.' },
    { id: 'd4', title: '', text: 'Happy dogs and happy birds.' },
  ]);
  await bm25.save(files.bm25);
  expected.bm25 = bm25.search(textQueries, 2);
});

async function runBatch(job: FuzzJob): Promise<FuzzReport> {
  const jobFile = path.join(dir, `job-${job.kind}-${job.mode}-${job.seed}.json`);
  await fs.writeFile(
    jobFile,
    JSON.stringify(job, (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v)),
  );
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'test/index/fuzz-worker.ts'), jobFile],
    { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  );
  const lastMutation = stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('mutation '))
    .pop();
  assert.equal(
    signal,
    null,
    `${job.kind}/${job.mode} seed ${job.seed}: killed by ${signal} at ${lastMutation}`,
  );
  assert.equal(
    code,
    0,
    `${job.kind}/${job.mode} seed ${job.seed}: exit ${code} at ${lastMutation}\n${stderr.slice(-2000)}`,
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as FuzzReport;
}

function job(kind: Kind, mode: FuzzJob['mode'], seed: number, file = files[kind]): FuzzJob {
  return {
    file,
    kind,
    mode,
    seed,
    count: 150,
    k: kind === 'bm25' ? 2 : 5,
    vectorQueries: { data: Array.from(vectorQueries.data), rows: 3, cols: 8 },
    textQueries,
    expected: expected[kind]!,
    workDir: dir,
  };
}

for (const kind of ['exact', 'hnsw', 'bm25', 'int8', 'binary'] as const) {
  test(`${kind}: 150 random byte flips of the file are each a typed error or the unchanged result`, async () => {
    const report = await runBatch(job(kind, 'raw', 1000 + kind.length));
    assert.deepEqual(report.failures, []);
    assert.equal(report.typedErrors + report.unchanged, 150);
    assert.ok(report.typedErrors > 0);
  });

  test(`${kind}: 150 flips inside sections with fresh checksums never crash; any result is well-formed`, async () => {
    const report = await runBatch(job(kind, 'resealed', 2000 + kind.length));
    assert.deepEqual(report.failures, []);
    assert.equal(report.typedErrors + report.unchanged + report.changedWellFormed, 150);
    assert.ok(report.typedErrors > 0, 'the structural checks refuse some mutants');
  });
}

test('version-1 fixtures (no checksums): random flips never crash the process', async () => {
  const v1 = path.join(dir, 'v1.hnsw');
  await fs.copyFile(path.join(FIXTURES, 'v1-hnsw.idx'), v1);
  const loaded = await HnswIndex.load(v1);
  const q = { data: new Float32Array([1, 1, 1, 1]), rows: 1, cols: 4 };
  const report = await runBatch({
    ...job('hnsw', 'raw', 3000, v1),
    vectorQueries: { data: [1, 1, 1, 1], rows: 1, cols: 4 },
    k: 3,
    expected: await loaded.search(q, 3),
  });
  // Without checksums a flipped value can load with another answer: only crashes and untyped errors fail.
  const untyped = report.failures.filter((f) => !f.includes('loaded with a different result'));
  assert.deepEqual(untyped, []);
});
