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

/** The pid of a process that has exited (so it is certainly not running now). */
async function deadPid(): Promise<number> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.once('exit', resolve));
  return child.pid!;
}

test('temp files of killed writers are removed on the next write into the directory; live ones stay', async () => {
  const { createHash } = await import('node:crypto');
  const { mkdirSync, utimesSync } = await import('node:fs');
  const os = await import('node:os');
  const host = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 6);
  const dir = tmpDir();
  const dead = await deadPid();
  const live = process.ppid; // the test runner: alive for the whole test
  const names = {
    deadFile: `.target.idx.tmp-${host}-${dead}-0123abcd`,
    deadLegacy: `.target.idx.tmp-${dead}-89abcdef`, // written by an older version (no host part)
    deadStep: `.step-00000010.tmp-${host}-${dead}-00ff00ff`, // a checkpoint directory being built
    liveFile: `.target.idx.tmp-${host}-${live}-11111111`,
    liveOld: `.other.tmp-${host}-${live}-22222222`,
    otherHost: `.target.idx.tmp-abcdef-${dead}-33333333`,
    orphanOld: `.lost.tmp-${host}-${dead}-44444444.old`, // the only copy of `lost`, which is missing
    userFile: '.target.idx.tmp-notes',
  };
  for (const [key, name] of Object.entries(names)) {
    if (key === 'deadStep' || key === 'orphanOld') {
      mkdirSync(path.join(dir, name));
      writeFileSync(path.join(dir, name, 'weights.bin'), 'x');
    } else writeFileSync(path.join(dir, name), 'partial');
  }
  const twoDaysAgo = new Date(Date.now() - 48 * 3600 * 1000);
  utimesSync(path.join(dir, names.liveOld), twoDaysAgo, twoDaysAgo);
  await writeFileAtomic(path.join(dir, 'target.idx'), 'data');
  const left = new Set(readdirSync(dir));
  assert.ok(left.has('target.idx'));
  for (const gone of [names.deadFile, names.deadLegacy, names.deadStep, names.liveOld]) {
    assert.ok(!left.has(gone), `${gone} should have been removed`);
  }
  for (const kept of [names.liveFile, names.otherHost, names.orphanOld, names.userFile]) {
    assert.ok(left.has(kept), `${kept} should have been kept`);
  }
});

test('writeDirAtomic sweeps litter too (a killed checkpoint write), and the hnsw temp pattern works', async () => {
  const { removeStaleTemps } = await import('../../src/util/atomic.js');
  const dir = tmpDir();
  const dead = await deadPid();
  writeFileSync(path.join(dir, `.step-00000020.tmp-${dead}-abcdef01`), 'x');
  await writeDirAtomic(path.join(dir, 'step-00000030'), async (tmp) =>
    writeFileSync(path.join(tmp, 'w'), 'v'),
  );
  assert.deepEqual(readdirSync(dir), ['step-00000030']);
  writeFileSync(path.join(dir, `dr-hnsw-${dead}-0123456789ab.bin`), 'graph');
  writeFileSync(path.join(dir, `dr-hnsw-${process.ppid}-0123456789ab.bin`), 'graph');
  const removed = await removeStaleTemps(dir, /^dr-hnsw-(?<pid>\d+)-[0-9a-f]{12}\.bin$/);
  assert.deepEqual(removed, [path.join(dir, `dr-hnsw-${dead}-0123456789ab.bin`)]);
});

test('write errors name the target the caller gave, never the temp sibling, and say the cause in words', async () => {
  const { mkdirSync } = await import('node:fs');
  const { WriteError } = await import('../../src/errors.js');
  const dir = tmpDir();
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    mkdirSync('odir');
    writeFileSync('afile', 'mine');
    const cases: [() => Promise<void>, string][] = [
      [() => writeFileAtomic('.', 'x'), '.: is a directory, not a file'],
      [() => writeFileAtomic('odir', 'x'), 'odir: is a directory, not a file'],
      [() => writeFileAtomic('afile/sub', 'x'), 'afile/sub: afile is a file, not a directory'],
      [() => writeFileAtomic('afile/a/b', 'x'), 'afile/a/b: afile is a file, not a directory'],
      [() => writeDirAtomic('afile', async () => {}), 'afile: exists and is a file, not a directory'],
      [() => writeDirAtomic('afile/sub', async () => {}), 'afile/sub: afile is a file, not a directory'],
      // An error deep inside the staged directory is told about the same path inside the target.
      [
        () =>
          writeDirAtomic('built', async (tmp) => {
            await writeFileAtomic(path.join(tmp, 'a'), 'x');
            await writeFileAtomic(path.join(tmp, 'a', 'b'), 'x');
          }),
        'built/a/b: built/a is a file, not a directory',
      ],
    ];
    for (const [run, message] of cases) {
      await assert.rejects(run(), (e: unknown) => e instanceof WriteError && e.message === message);
    }
    assert.equal(readFileSync('afile', 'utf8'), 'mine'); // a file is never replaced by a directory
    assert.deepEqual(readdirSync('.').sort(), ['afile', 'odir']); // no temp litter, no 'built'
  } finally {
    process.chdir(cwd);
  }
});

test('a permission error is "permission denied" in the directory that refused (real chmod when not root)', async () => {
  const { chmodSync, mkdirSync } = await import('node:fs');
  const { toWriteError } = await import('../../src/util/atomic.js');
  const { WriteError } = await import('../../src/errors.js');
  const dir = tmpDir();
  const target = path.join(dir, 'ro', 'x.npy');
  const tmp = path.join(dir, 'ro', '.x.npy.tmp-abcdef-1-00000000');
  // The error the file system gives for the temp file is told about the target.
  const eacces = Object.assign(new Error(`EACCES: permission denied, open '${tmp}'`), {
    code: 'EACCES',
    syscall: 'open',
    path: tmp,
  });
  const mapped = await toWriteError(eacces, target, tmp);
  assert.ok(mapped instanceof WriteError);
  assert.equal(
    mapped.message,
    `${target}: permission denied (cannot create files in ${path.join(dir, 'ro')})`,
  );
  assert.equal(mapped.code, 'EACCES');
  // An error about another file (the data source's) passes unchanged.
  const other = Object.assign(new Error('ENOENT'), {
    code: 'ENOENT',
    syscall: 'open',
    path: '/elsewhere/in.txt',
  });
  assert.equal(await toWriteError(other, target, tmp), other);
  if (process.getuid?.() === 0) return; // root writes anywhere: the live half needs an ordinary user
  mkdirSync(path.join(dir, 'ro'));
  chmodSync(path.join(dir, 'ro'), 0o555);
  try {
    await assert.rejects(
      writeFileAtomic(target, 'x'),
      (e: unknown) => e instanceof WriteError && e.message === mapped.message,
    );
    await assert.rejects(
      writeFileAtomic(path.join(dir, 'ro', 'sub', 'x'), 'x'),
      (e: unknown) =>
        e instanceof WriteError &&
        e.reason === `permission denied (cannot create files in ${path.join(dir, 'ro')})`,
    );
  } finally {
    chmodSync(path.join(dir, 'ro'), 0o755);
  }
});
