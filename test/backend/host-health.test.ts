import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runTsScript } from '../helpers/cli.js';

const PROBE = 'test/backend/host-health-probe.ts';
const TFJS_NOISE = /tf-backend-wasm|tfjs|Hi, looks like you are running TensorFlow\.js/i;

function observed(stdout: string): Record<string, unknown> {
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line, `no JSON line in ${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

for (const threads of ['1', '2']) {
  test(`a host's uncaughtException handler keeps the process alive after initBackend() (wasm, ${threads} thread(s))`, async () => {
    const { code, stdout, stderr } = await runTsScript(PROBE, [], {
      env: { PROBE_MODE: 'uncaught', DENSE_RETRIEVAL_WASM_THREADS: threads },
    });
    // Before: Emscripten's handler rethrew after the host's, and Node exited with 7.
    assert.equal(code, 0, stderr);
    const o = observed(stdout);
    assert.equal(o.backend, 'wasm');
    assert.deepEqual(o.after, o.before, 'process listeners changed by initBackend()');
    assert.match(stdout, /handled host failure\nstill alive/);
    assert.doesNotMatch(stderr, TFJS_NOISE);
  });
}

test("a host's unhandledRejection handler decides, not tfjs's loader", async () => {
  const { code, stdout, stderr } = await runTsScript(PROBE, [], {
    env: { PROBE_MODE: 'rejection' },
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /handled host rejection\nstill alive/);
  assert.doesNotMatch(stderr, TFJS_NOISE);
});

test('forgetting initBackend() initialises the default backend on first use, without a banner', async () => {
  const { code, stdout, stderr } = await runTsScript(PROBE, [], {
    env: { PROBE_MODE: 'implicit', PROBE_CONFIG: 'examples/configs/scratch-bert-2x64.json' },
  });
  assert.equal(code, 0, stderr);
  const o = observed(stdout);
  // Before: tfjs picked its pure-JS cpu backend by itself (about 5x slower) and printed its banner.
  assert.equal(o.backend, 'wasm');
  assert.equal(o.tf, 'wasm');
  assert.equal(o.rows, 2);
  assert.doesNotMatch(stderr, TFJS_NOISE);
});

test('a chosen cpu backend prints no "install tfjs-node" banner', async () => {
  const { code, stdout, stderr } = await runTsScript(PROBE, [], { env: { PROBE_MODE: 'cpu' } });
  assert.equal(code, 0, stderr);
  assert.deepEqual(observed(stdout), { backend: 'cpu', sum: 6 });
  assert.doesNotMatch(stderr, TFJS_NOISE);
});
