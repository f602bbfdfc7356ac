import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir, e2eReference } from '../models/bert-fixture.js';

test('--help lists the commands', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: dense-retrieval <command>/);
});

test('an unknown command exits 2 with a one-line message', async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
});

test('--threads sets the wasm thread count, reports it, and gives the same embeddings as one thread', async () => {
  const ref = e2eReference();
  const dir = tmpDir();
  const input = path.join(dir, 'texts.txt');
  writeFileSync(input, ref.texts.join('\n') + '\n');
  const run = (threads: string) =>
    runCli([
      'encode',
      '--model',
      e2eModelDir(),
      '--input',
      input,
      '--output',
      path.join(dir, `t${threads}.npy`),
      '--threads',
      threads,
      '--backend',
      'wasm',
      '--quiet',
    ]);
  const [one, two] = await Promise.all([run('1'), run('2')]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.match(one.stderr, /backend wasm\n/);
  assert.match(two.stderr, /backend wasm \(2 threads\)/);
  assert.deepEqual(readFileSync(path.join(dir, 't2.npy')), readFileSync(path.join(dir, 't1.npy')));
});

test('a bad --threads exits 2 naming the flag, before any work', async () => {
  const r = await runCli(['encode', '--threads', '0', '--model', 'nowhere']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--threads must be an integer from 1 to 8, got '0'/);
});

test('an output path that cannot be written is reported under the flag the user typed, never a temp name', async () => {
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'a.trec'), 'q1 Q0 d1 1 2.0 a\nq1 Q0 d2 2 1.0 a\n');
  writeFileSync(path.join(dir, 'b.trec'), 'q1 Q0 d2 1 2.0 b\nq1 Q0 d1 2 1.0 b\n');
  writeFileSync(path.join(dir, 'afile'), 'mine');
  const fuse = (output: string) =>
    runCli(['fuse', '--run', 'a.trec', '--run', 'b.trec', '--output', output], { cwd: dir });
  for (const [output, message] of [
    ['.', '--output .: is a directory, not a file'],
    ['afile/sub', '--output afile/sub: afile is a file, not a directory'],
  ]) {
    const r = await fuse(output);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr.trim(), `dense-retrieval: error: ${message}`);
  }
  // A library ArgumentError about its `dir` parameter is told as --out.
  const r = await runCli(
    ['export', '--model', path.join(REPO_ROOT, 'test/fixtures/mpnet'), '--out', 'afile', '--quiet'],
    {
      cwd: dir,
    },
  );
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /error: --out afile exists and is not a directory\n$/);
  assert.equal(readFileSync(path.join(dir, 'afile'), 'utf8'), 'mine');
  // ... and one about --model's path (the library's `source`).
  const model = await runCli(['export', '--model', './nope-x', '--out', 'q'], { cwd: dir });
  assert.equal(model.code, 1, model.stderr);
  assert.match(model.stderr, /error: --model \.\/nope-x: no such directory/);
  // ... and so is one about a path inside it.
  mkdirSync(path.join(dir, 'ex', 'onnx', 'model.onnx'), { recursive: true });
  const inside = await runCli(
    ['export', '--model', path.join(REPO_ROOT, 'test/fixtures/mpnet'), '--out', 'ex', '--quiet'],
    {
      cwd: dir,
    },
  );
  assert.equal(inside.code, 1, inside.stderr);
  assert.match(
    inside.stderr,
    /error: --out ex\/onnx\/model\.onnx is a directory where the model writes a file/,
  );
});

test('a command group alone lists its subcommands; an unknown subcommand names the group and its members', async () => {
  const bare = await runCli(['index']);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /Usage: dense-retrieval index <subcommand>/);
  assert.match(bare.stderr, /index build +build an exact/);
  assert.match(bare.stderr, /index search +search a saved index/);
  const help = await runCli(['index', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /index build/);
  const frob = await runCli(['index', 'frob']);
  assert.equal(frob.code, 2);
  assert.equal(frob.stderr, "dense-retrieval: error: unknown subcommand 'frob' of 'index' (build, search)\n");
});

test('a reader that closes the pipe early (| head) does not stop the work: the export completes, exit 0', async () => {
  const { spawn } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const out = path.join(tmpDir(), 'exported');
  const child = spawn(
    process.execPath,
    [
      '--import',
      import.meta.resolve('tsx'),
      path.join(REPO_ROOT, 'src/cli/main.ts'),
      'export',
      '--model',
      path.join(REPO_ROOT, 'test/fixtures/mpnet'),
      '--out',
      out,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // Both pipes closed at once: every progress, log and summary line meets EPIPE.
  child.stdout.destroy();
  child.stderr.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0);
  assert.ok(existsSync(path.join(out, 'onnx', 'model.onnx')));
});
