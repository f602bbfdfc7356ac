import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  defaultCacheDir,
  isCompleteModelDir,
  lockModelDir,
  markComplete,
  modelCacheDir,
} from '../../src/checkpoint/cache.js';
import { tmpDir } from '../helpers/tmp.js';

test('a lock left by a dead process is taken over; a live holder is waited for', async () => {
  const dir = tmpDir();
  // A pid that surely is dead: a child that has exited.
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const deadPid = Number(child.stdout.toString());
  await fs.writeFile(path.join(dir, '.lock'), `${os.hostname()}:${deadPid}:old`);
  const release = await lockModelDir(dir, { onWait: () => assert.fail('must not wait for a dead pid') });
  await release();
  await assert.rejects(fs.access(path.join(dir, '.lock')));

  // A lock from another host that was not refreshed for a minute is stale too.
  await fs.writeFile(path.join(dir, '.lock'), 'some-other-host:1:old');
  const minuteAgo = new Date(Date.now() - 60_000);
  await fs.utimes(path.join(dir, '.lock'), minuteAgo, minuteAgo);
  await (
    await lockModelDir(dir, { onWait: () => assert.fail('must not wait for a stale lock') })
  )();

  const first = await lockModelDir(dir);
  let waitingFor = '';
  let acquired = false;
  const second = lockModelDir(dir, { pollMs: 5, onWait: (holder) => (waitingFor = holder) }).then((r) => {
    acquired = true;
    return r;
  });
  while (waitingFor === '') await new Promise((resolve) => setImmediate(resolve));
  assert.match(waitingFor, new RegExp(`^${os.hostname()}:${process.pid}:`));
  assert.equal(acquired, false);
  await first();
  await (
    await second
  )();
  assert.equal(acquired, true);
});

test('the default cache directory follows DENSE_RETRIEVAL_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
  assert.equal(defaultCacheDir({ DENSE_RETRIEVAL_CACHE: '/data/models' }), '/data/models');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/xdg' }), '/xdg/dense-retrieval');
  assert.equal(defaultCacheDir({}), path.join(os.homedir(), '.cache', 'dense-retrieval'));
});

test('model directories: one per repository and revision; complete only once marked', async () => {
  assert.equal(
    modelCacheDir('/cache', 'sentence-transformers/all-MiniLM-L6-v2', 'main'),
    '/cache/hub/sentence-transformers--all-MiniLM-L6-v2/main',
  );
  assert.equal(
    modelCacheDir('/cache', 'bert-base-uncased', 'refs/pr/1'),
    '/cache/hub/bert-base-uncased/refs%2Fpr%2F1',
  );
  const dir = tmpDir();
  assert.equal(await isCompleteModelDir(dir), false);
  await markComplete(dir, {
    repo: 'o/m',
    revision: 'main',
    endpoint: 'http://x',
    files: ['a'],
    completedAt: 'now',
  });
  assert.equal(await isCompleteModelDir(dir), true);
  const marker = JSON.parse(await fs.readFile(path.join(dir, '.complete'), 'utf8')) as { files: string[] };
  assert.deepEqual(marker.files, ['a']);
});
