import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { tmpDir } from '../helpers/tmp.js';
import { joinNegativeValues, nearestFlag } from '../../src/cli/args.js';
import { runCli } from '../helpers/cli.js';

const TRAIN = [
  'model',
  'data',
  'out',
  'steps',
  'epochs',
  'batch-size',
  'lr',
  'min-lr',
  'warmup',
  'max-length',
];

test('nearestFlag finds the typo, the missing dash and the unique prefix, and nothing far away', () => {
  assert.equal(nearestFlag('--stpes', TRAIN), 'steps');
  assert.equal(nearestFlag('--batchsize', TRAIN), 'batch-size');
  assert.equal(nearestFlag('--batch_size', TRAIN), 'batch-size');
  assert.equal(nearestFlag('--max-len', TRAIN), 'max-length');
  assert.equal(nearestFlag('--epoch=3', TRAIN), 'epochs');
  assert.equal(nearestFlag('--m', TRAIN), undefined, 'ambiguous prefix (model, min-lr, max-length)');
  assert.equal(nearestFlag('--frobnicate', TRAIN), undefined);
});

test('an unknown CLI flag suggests the nearest one', async () => {
  const r = await runCli(['evaluate', '--qrel', 'q.txt', '--run', 'r.txt']);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /evaluate: Unknown option '--qrel'; did you mean --qrels\? \(see 'dense-retrieval evaluate --help'\)/,
  );
});

test('joinNegativeValues joins a number-like value after a value flag, and nothing else', () => {
  const options = {
    k: { type: 'string' as const },
    m: { type: 'string' as const, short: 'm' },
    quiet: { type: 'boolean' as const },
  };
  assert.deepEqual(joinNegativeValues(['--k', '-3', '-m', '-1.5', '--quiet', '-2'], options), [
    '--k=-3',
    '-m-1.5',
    '--quiet',
    '-2',
  ]);
  // A flag followed by another flag keeps its "missing value" error; after '--' nothing is touched.
  assert.deepEqual(joinNegativeValues(['--k', '--quiet', '--', '--k', '-3'], options), [
    '--k',
    '--quiet',
    '--',
    '--k',
    '-3',
  ]);
});

test('a negative number after a space reaches the option check (two commands)', async () => {
  const exp = await runCli(['export', '--model', 'nowhere/none', '--out', 'x', '--opset', '-1']);
  assert.equal(exp.code, 2);
  assert.match(exp.stderr, /--opset must be >= 14, got -1/);
  assert.doesNotMatch(exp.stderr, /ambiguous/);
  const dir = tmpDir();
  const run = path.join(dir, 'a.trec');
  writeFileSync(run, 'q1 Q0 d1 1 2.0 a\n');
  const fuse = await runCli([
    'fuse',
    '--run',
    run,
    '--run',
    run,
    '--output',
    path.join(dir, 'o'),
    '--depth',
    '-3',
  ]);
  assert.equal(fuse.code, 2);
  assert.match(fuse.stderr, /--depth must be >= 1, got -3/);
  assert.doesNotMatch(fuse.stderr, /ambiguous/);
});
