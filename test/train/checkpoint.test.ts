import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { InputFormatError } from '../../src/errors.js';
import { AdamW } from '../../src/optim/adamw.js';
import { readTrainerState, restoreWeights, writeCheckpoint } from '../../src/train/checkpoint.js';
import type { TrainerState } from '../../src/train/checkpoint.js';
import { tmpDir } from '../helpers/tmp.js';

before(async () => {
  await initBackend();
});

const STATE = {
  format: 'dense-retrieval.trainer-state',
  version: 1,
  step: 1,
  totalSteps: 2,
  seed: 1,
  batchSize: 2,
  sampler: {},
  examples: { count: 2, fingerprint: 'x' },
  loss: {},
  scheduler: {},
} as unknown as TrainerState;

/** A checkpoint of two variables after one AdamW step; returns its directory and the variables. */
async function checkpoint(): Promise<{ dir: string; vars: tf.Variable[]; opt: AdamW }> {
  const vars = [
    tf.variable(
      tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
    ),
    tf.variable(tf.tensor1d([5, 6, 7])),
  ];
  const opt = new AdamW();
  const grads = new Map(vars.map((v) => [v, tf.onesLike(v)] as [tf.Variable, tf.Tensor]));
  opt.applyGradients(grads, 0.1);
  for (const g of grads.values()) g.dispose();
  const dir = path.join(tmpDir(), 'step-00000001');
  await writeCheckpoint(dir, vars, opt, STATE);
  return { dir, vars, opt };
}

function dispose(vars: tf.Variable[], opt: AdamW): void {
  vars.forEach((v) => v.dispose());
  opt.dispose();
}

/** Rejects with an InputFormatError whose file is `file` and whose message matches `re`. */
async function rejectsNaming(p: Promise<unknown>, file: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InputFormatError, `expected InputFormatError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.match(e.message, re);
    return true;
  });
}

test('a truncated or corrupt weights.bin is a typed error naming it; the model is left untouched', async () => {
  const { dir, vars, opt } = await checkpoint();
  const bin = path.join(dir, 'weights.bin');
  const json = path.join(dir, 'weights.json');
  const good = readFileSync(bin);
  const before = vars.map((v) => [...v.dataSync()]);
  writeFileSync(bin, good.subarray(0, good.length - 2));
  await rejectsNaming(restoreWeights(dir, vars), bin, /not a whole number of float32 values/);
  // Truncated to whole floats: the checksum (or, for old checkpoints, the layout) catches it.
  writeFileSync(bin, good.subarray(0, good.length - 4));
  await rejectsNaming(restoreWeights(dir, vars), bin, /does not match the sha256/);
  const noSha = JSON.parse(readFileSync(json, 'utf8'));
  delete noSha.sha256;
  writeFileSync(json, JSON.stringify(noSha));
  await rejectsNaming(
    restoreWeights(dir, vars),
    json,
    /'.*' needs float32 values up to 7 but weights\.bin has 6 \(truncated\?\)/,
  );
  writeFileSync(bin, Buffer.concat([good, Buffer.alloc(4)]));
  await rejectsNaming(restoreWeights(dir, vars), json, /cover 7 float32 values but weights\.bin has 8/);
  rmSync(bin);
  await rejectsNaming(restoreWeights(dir, vars), bin, /missing/);
  assert.deepEqual(
    vars.map((v) => [...v.dataSync()]),
    before,
  );
  dispose(vars, opt);
});

test('an invalid weights.json is a typed error naming it', async () => {
  const { dir, vars, opt } = await checkpoint();
  const json = path.join(dir, 'weights.json');
  const good = JSON.parse(readFileSync(json, 'utf8'));
  writeFileSync(json, '{"variables": [');
  await rejectsNaming(restoreWeights(dir, vars), json, /invalid JSON/);
  writeFileSync(json, '42');
  await rejectsNaming(restoreWeights(dir, vars), json, /expected an object with a "variables" list/);
  writeFileSync(
    json,
    JSON.stringify({ ...good, variables: [{ ...good.variables[0], shape: 'big' }, good.variables[1]] }),
  );
  await rejectsNaming(restoreWeights(dir, vars), json, /shape "big" is not a list of sizes/);
  writeFileSync(
    json,
    JSON.stringify({ ...good, variables: [good.variables[0], { ...good.variables[1], offset: -1 }] }),
  );
  await rejectsNaming(restoreWeights(dir, vars), json, /offset -1 is not a non-negative integer/);
  writeFileSync(json, JSON.stringify({ ...good, variables: [null, good.variables[1]] }));
  await rejectsNaming(restoreWeights(dir, vars), json, /entry #0 has no "name"/);
  dispose(vars, opt);
});

test('a truncated optimizer.bin or invalid optimizer.json is a typed error; the state is left untouched', async () => {
  const { dir, vars, opt } = await checkpoint();
  const bin = path.join(dir, 'optimizer.bin');
  const json = path.join(dir, 'optimizer.json');
  const good = readFileSync(bin);
  const fresh = new AdamW();
  writeFileSync(bin, good.subarray(0, 10));
  await rejectsNaming(fresh.loadState(dir, vars), bin, /not a whole number of float32 values/);
  writeFileSync(bin, good.subarray(0, 8));
  await rejectsNaming(fresh.loadState(dir, vars), bin, /does not match the sha256/);
  writeFileSync(bin, good);
  const manifest = JSON.parse(readFileSync(json, 'utf8'));
  writeFileSync(json, JSON.stringify({ ...manifest, slots: 'none' }));
  await rejectsNaming(fresh.loadState(dir, vars), json, /expected a list of tensors/);
  writeFileSync(json, JSON.stringify({ ...manifest, step: 'x' }));
  await rejectsNaming(fresh.loadState(dir, vars), json, /"step" must be a non-negative integer/);
  writeFileSync(json, 'null');
  await rejectsNaming(fresh.loadState(dir, vars), json, /expected a JSON object/);
  // The untouched file still loads.
  writeFileSync(json, JSON.stringify(manifest));
  await fresh.loadState(dir, vars);
  fresh.dispose();
  const state = path.join(dir, 'trainer_state.json');
  writeFileSync(state, 'null');
  await rejectsNaming(readTrainerState(dir), state, /expected a JSON object/);
  dispose(vars, opt);
});
