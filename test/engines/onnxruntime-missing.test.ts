import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { installPacked } from '../helpers/packed.js';
import { e2eModelDir } from '../models/bert-fixture.js';

test('without onnxruntime-node: auto encodes on tfjs, engine onnx is a BackendError naming the package', () => {
  // The packed install links only the package's dependencies: the optional peer is absent, as for a user
  // who never installed it.
  const project = installPacked();
  assert.ok(!existsSync(path.join(project.dir, 'node_modules', 'onnxruntime-node')));
  const model = e2eModelDir();
  const script = `
    const dr = await import('dense-retrieval');
    await dr.initBackend();
    const encoder = await dr.loadModel(${JSON.stringify(model)}, { quiet: true });
    console.log('auto:', await encoder.resolveEngine(), (await encoder.encode(['a text'], { quiet: true })).cols);
    try {
      await encoder.encode(['a text'], { engine: 'onnx', quiet: true });
    } catch (e) {
      console.log(e.name + ': ' + e.message);
    }
    encoder.dispose();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: project.dir,
    env: project.env,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const [auto, error] = r.stdout.trim().split('\n');
  assert.equal(auto, 'auto: tfjs 8');
  assert.match(
    error,
    /^BackendError: the ONNX Runtime engine needs the optional package onnxruntime-node, .*ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node/,
  );
  writeFileSync(path.join(project.dir, 'x.txt'), 'a text\n');
  const cli = spawnSync(
    path.join(project.dir, 'node_modules', '.bin', 'dense-retrieval'),
    ['encode', '--model', model, '--input', 'x.txt', '--output', 'x.npy', '--engine', 'onnx'],
    { cwd: project.dir, env: project.env, encoding: 'utf8' },
  );
  assert.notEqual(cli.status, 0);
  assert.match(cli.stderr, /needs the optional package onnxruntime-node/);
  assert.ok(!existsSync(path.join(project.dir, 'x.npy')), 'nothing written');
});
