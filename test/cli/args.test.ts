import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nearestFlag } from '../../src/cli/args.js';
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
