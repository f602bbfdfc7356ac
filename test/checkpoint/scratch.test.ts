import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { resolveModelSource } from '../../src/checkpoint/hub.js';
import { loadTokenizerFor } from '../../src/models/load.js';
import { SCRATCH_CONFIGS, scratchConfigFile } from '../../src/checkpoint/scratch.js';
import { ArgumentError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

test('scratch:tiny names a config shipped in assets/configs (the npm package has no examples/)', async () => {
  const file = scratchConfigFile('scratch:tiny');
  assert.ok(existsSync(file), file);
  assert.equal(path.basename(path.dirname(file)), 'configs');
  assert.equal(path.basename(path.dirname(path.dirname(file))), 'assets');
  for (const name of Object.values(SCRATCH_CONFIGS))
    assert.ok(existsSync(path.join(path.dirname(file), name)));
  const { maxSeqLength } = await loadTokenizerFor('scratch:tiny');
  assert.equal(maxSeqLength, 512);
});

test('a missing scratch config names the path given, not "config.json"', async () => {
  await assert.rejects(
    loadTokenizerFor('scratch:examples/configs/nope.json'),
    (e: unknown) =>
      e instanceof ArgumentError &&
      e.argument === 'model' &&
      /scratch config 'examples\/configs\/nope\.json' not found \(resolved to .*nope\.json\).*scratch:tiny/.test(
        e.message,
      ),
  );
});

test('a path whose first segment exists locally is never treated as a hub id (no download, no cache dir)', async () => {
  const cwd = process.cwd();
  const dir = tmpDir();
  const cache = path.join(dir, 'cache');
  mkdirSync(path.join(dir, 'runs', 'lib-model'), { recursive: true });
  process.chdir(dir);
  try {
    await assert.rejects(
      resolveModelSource('runs/lib-modle', { cacheDir: cache, retries: 0 }),
      /runs\/lib-modle: no such directory \(runs\/ exists here, so this names a local path, not a hub id\)/,
    );
    assert.ok(!existsSync(cache) || readdirSync(cache).length === 0, 'no cache directory was created');
    assert.equal(await resolveModelSource('runs/lib-model'), path.join(dir, 'runs', 'lib-model'));
  } finally {
    process.chdir(cwd);
  }
});
