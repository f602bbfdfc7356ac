import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { writeNpy } from '../../src/data/npy.js';
import { matrixFromRows } from '../../src/util/matrix.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const BANNER = /Hi, looks like you are running TensorFlow\.js in Node\.js/;

test("index search on an exact index runs on the initialised backend, without tfjs's banner", async () => {
  const dir = tmpDir();
  const vectors = path.join(dir, 'v.npy');
  const ids = path.join(dir, 'ids.txt');
  const index = path.join(dir, 'x.idx');
  const run = path.join(dir, 'run.trec');
  await writeNpy(
    vectors,
    matrixFromRows([
      [1, 0],
      [0, 1],
      [1, 1],
    ]),
  );
  writeFileSync(ids, 'a\nb\nc\n');
  const build = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    ids,
    '--type',
    'exact',
    '--out',
    index,
  ]);
  assert.equal(build.code, 0, build.stderr);
  // Before: tfjs picked its cpu backend by itself on the first search and printed its banner.
  for (const extra of [[], ['--backend', 'cpu']]) {
    const r = await runCli([
      'index',
      'search',
      '--index',
      index,
      '--queries',
      vectors,
      '--k',
      '2',
      '--output',
      run,
      '--row-numbers',
      ...extra,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, BANNER);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
