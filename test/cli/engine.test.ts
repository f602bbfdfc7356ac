import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
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

test('mine --engine onnx and --engine tfjs mine the same negatives', async () => {
  const data = await miniBeir(tmpDir());
  const dir = tmpDir();
  const outs: string[] = [];
  for (const engine of ['onnx', 'tfjs']) {
    const out = path.join(dir, `${engine}.jsonl`);
    const r = await runCli([
      'mine',
      '--model',
      e2eModelDir(),
      '--data',
      data,
      '--split',
      'test',
      '--out',
      out,
      '--index',
      'exact',
      '--num-negatives',
      '2',
      '--engine',
      engine,
      '--quiet',
    ]);
    assert.equal(r.code, 0, r.stderr);
    outs.push(out);
  }
  const [onnx, tfjs] = outs.map((f) => readFileSync(f, 'utf8').trim().split('\n'));
  assert.ok(onnx.length > 0);
  // Same negatives, in the same order; scores agree to the vectors' 1e-4.
  const strip = (line: string) => {
    const { scores: _scores, ...rest } = JSON.parse(line) as Record<string, unknown>;
    return rest;
  };
  assert.deepEqual(onnx.map(strip), tfjs.map(strip));
});
