import assert from 'node:assert/strict';
import os from 'node:os';
import { test } from 'node:test';
import { BackendError, initBackend } from '../../src/index.js';
import { defaultWasmThreads, parseWasmThreads } from '../../src/backend/threaded-wasm.js';
import { runTsScript } from '../helpers/cli.js';

const PROBE = 'test/backend/threaded-wasm-probe.ts';

interface ProbeResult {
  backend: string;
  threads: number;
  digest: string;
  stderr: string;
}

async function probe(threads: string, env: NodeJS.ProcessEnv = {}): Promise<ProbeResult> {
  const r = await runTsScript(PROBE, [], { env: { DENSE_RETRIEVAL_WASM_THREADS: threads, ...env } });
  assert.equal(r.code, 0, r.stderr);
  return { ...(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ProbeResult), stderr: r.stderr };
}

test('the threaded wasm build runs BERT forward+backward bit for bit like the single-threaded one, and exits', async () => {
  const [one, two] = await Promise.all([probe('1'), probe('2')]);
  assert.equal(one.backend, 'wasm');
  assert.equal(one.threads, 1);
  assert.equal(two.backend, 'wasm');
  assert.equal(two.threads, 2, 'the pool must really have two threads (the C++ side halves the core count)');
  assert.equal(two.digest, one.digest);
});

test('when the threaded build cannot start, wasm runs on one thread with the same results and says why', async () => {
  const [one, broken] = await Promise.all([
    probe('1'),
    probe('2', { PROBE_TMPDIR: '/etc/passwd/not-a-dir' }),
  ]);
  assert.equal(broken.backend, 'wasm', 'never a silent fall-through to the cpu backend');
  assert.equal(broken.threads, 1, broken.stderr);
  assert.equal(broken.digest, one.digest);
  assert.match(
    broken.stderr,
    /multi-threaded wasm build could not start \(ENOTDIR.*\); running on one thread/,
  );
});

test('thread counts are validated with the name of their source', () => {
  assert.equal(parseWasmThreads('3', 'X'), 3);
  assert.equal(parseWasmThreads(1, 'X'), 1);
  // '0x2', '0b10' and ' 2' are what Number() reads as 2 (issue 13: one strict decimal grammar).
  for (const bad of ['0', '9', '1.5', 'two', '', '0x2', '0b10', ' 2', '2e0']) {
    assert.throws(
      () => parseWasmThreads(bad, 'DENSE_RETRIEVAL_WASM_THREADS'),
      (e: unknown) =>
        e instanceof BackendError &&
        /DENSE_RETRIEVAL_WASM_THREADS must be an integer from 1 to 8/.test(e.message),
    );
  }
});

test('a bad DENSE_RETRIEVAL_WASM_THREADS is an error, never a silent fall-back to another backend', async () => {
  const saved = process.env.DENSE_RETRIEVAL_WASM_THREADS;
  process.env.DENSE_RETRIEVAL_WASM_THREADS = 'lots';
  try {
    assert.throws(() => defaultWasmThreads(), /DENSE_RETRIEVAL_WASM_THREADS.*"lots"/);
    await assert.rejects(initBackend(), BackendError);
    await assert.rejects(initBackend({ backend: 'cpu' }), /DENSE_RETRIEVAL_WASM_THREADS/);
  } finally {
    restore('DENSE_RETRIEVAL_WASM_THREADS', saved);
  }
  await assert.rejects(initBackend({ backend: 'wasm', wasmThreads: 0 }), /wasmThreads must be an integer/);
});

test('the default is one thread per core, at most 8', () => {
  const saved = process.env.DENSE_RETRIEVAL_WASM_THREADS;
  delete process.env.DENSE_RETRIEVAL_WASM_THREADS;
  try {
    assert.equal(defaultWasmThreads(), Math.min(8, os.availableParallelism()));
  } finally {
    restore('DENSE_RETRIEVAL_WASM_THREADS', saved);
  }
});

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
