import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { installPacked } from '../helpers/packed.js';

test("the package imports, requires and runs evaluate without hnswlib-node's native binary", () => {
  const project = installPacked({ hideHnswlibBinary: true });
  const run = (args: string[]) =>
    spawnSync(process.execPath, args, { cwd: project.dir, env: project.env, encoding: 'utf8' });
  // The copy really lacks its binary: requiring hnswlib-node itself fails as on a machine without a compiler.
  assert.ok(!existsSync(path.join(project.dir, 'node_modules', 'hnswlib-node', 'build')));
  const direct = run(['-e', "require('hnswlib-node')"]);
  assert.notEqual(direct.status, 0);
  assert.match(direct.stderr, /Could not locate the bindings file/);

  const esm = run([
    '--input-type=module',
    '-e',
    "const dr = await import('dense-retrieval'); const i = new dr.ExactIndex({ dim: 2 }); await i.add({ data: new Float32Array([1, 0]), rows: 1, cols: 2 }, ['a']); console.log((await i.search({ data: new Float32Array([1, 0]), rows: 1, cols: 2 }, 1)).ids[0][0]);",
  ]);
  assert.equal(esm.status, 0, esm.stderr);
  assert.equal(esm.stdout.trim(), 'a');

  const cjs = run(['-e', "const dr = require('dense-retrieval'); console.log(typeof dr.HnswIndex);"]);
  assert.equal(cjs.status, 0, cjs.stderr);
  assert.equal(cjs.stdout.trim(), 'function');

  const help = run([path.join('node_modules', '.bin', 'dense-retrieval'), 'evaluate', '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: dense-retrieval evaluate/);

  // Building an HNSW index is where the addon is needed: a BackendError that says what to install.
  const hnsw = run([
    '-e',
    "const dr = require('dense-retrieval'); try { new dr.HnswIndex({ dim: 2 }); } catch (e) { console.log(e.name + ': ' + e.message); }",
  ]);
  assert.equal(hnsw.status, 0, hnsw.stderr);
  assert.match(
    hnsw.stdout,
    /^BackendError: HNSW indexes need the native package hnswlib-node, .*npm install hnswlib-node/,
  );
});
