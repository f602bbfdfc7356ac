import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { writeDirAtomic, writeFileAtomic } from '../../src/index.js';
import { tmpDir } from '../helpers/tmp.js';

test('writeFileAtomic replaces the file and leaves no temp files', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'a.txt');
  writeFileSync(file, 'old');
  await writeFileAtomic(file, 'new');
  assert.equal(readFileSync(file, 'utf8'), 'new');
  assert.deepEqual(readdirSync(dir), ['a.txt']);
});

test('writeDirAtomic keeps the old directory when building fails', async () => {
  const dir = tmpDir();
  const target = path.join(dir, 'ckpt');
  await writeDirAtomic(target, async (tmp) => writeFileSync(path.join(tmp, 'w'), 'v1'));
  await assert.rejects(
    writeDirAtomic(target, async (tmp) => {
      writeFileSync(path.join(tmp, 'w'), 'half');
      throw new Error('killed');
    }),
    /killed/,
  );
  assert.equal(readFileSync(path.join(target, 'w'), 'utf8'), 'v1');
  assert.deepEqual(readdirSync(dir), ['ckpt']);
  await writeDirAtomic(target, async (tmp) => writeFileSync(path.join(tmp, 'w'), 'v2'));
  assert.equal(readFileSync(path.join(target, 'w'), 'utf8'), 'v2');
  assert.ok(!existsSync(path.join(dir, 'ckpt.old')));
});
