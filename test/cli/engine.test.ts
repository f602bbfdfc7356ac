import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../../src/data/npy.js';
import { runCli } from '../helpers/cli.js';
import { miniBeir } from '../helpers/mini-beir.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir, e2eReference, matrixRows, maxAbsDiff } from '../models/bert-fixture.js';

test('encode --engine onnx|tfjs|auto: the same vectors (within 1e-4), the engine said; a bad engine is a usage error', async () => {
  const ref = e2eReference();
  const dir = tmpDir();
  const model = e2eModelDir();
  const input = path.join(dir, 'texts.txt');
  writeFileSync(input, ref.texts.join('\n') + '\n');
  const out: Record<string, number[][]> = {};
  for (const engine of ['onnx', 'tfjs', 'auto']) {
    const output = path.join(dir, `${engine}.npy`);
    const r = await runCli([
      'encode',
      '--model',
      model,
      '--input',
      input,
      '--output',
      output,
      '--engine',
      engine,
    ]);
    assert.equal(r.code, 0, r.stderr);
    // auto is ONNX Runtime here: onnxruntime-node is a devDependency.
    assert.match(r.stderr, new RegExp(`engine ${engine === 'tfjs' ? 'tfjs' : 'onnx'}\\n`));
    out[engine] = matrixRows(await readNpy(output));
    assert.ok(maxAbsDiff(out[engine], ref.pooled.mean_normalized) <= 1e-4, engine);
  }
  assert.ok(maxAbsDiff(out.onnx, out.tfjs) <= 1e-4);
  const bad = await runCli([
    'encode',
    '--model',
    model,
    '--input',
    input,
    '--output',
    'x.npy',
    '--engine',
    'gpu',
  ]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--engine must be one of auto\|onnx\|tfjs, got 'gpu'/);
});

test('evaluate-model --engine onnx and --engine tfjs print the same table', async () => {
  const data = await miniBeir(tmpDir());
  const model = e2eModelDir();
  const tables = [];
  for (const engine of ['onnx', 'tfjs']) {
    const r = await runCli([
      'evaluate-model',
      '--model',
      model,
      '--data',
      data,
      '--index',
      'exact',
      '--engine',
      engine,
      '--quiet',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /exact/);
    tables.push(r.stdout);
  }
  assert.equal(tables[0], tables[1]);
});
