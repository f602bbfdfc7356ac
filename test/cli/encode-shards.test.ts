import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readShardManifest } from '../../src/data/shards.js';
import { readNpy } from '../../src/data/npy.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

async function corpus(dir: string, n: number): Promise<string> {
  const file = path.join(dir, 'corpus.jsonl');
  const words = ['cell', 'protein', 'river', 'market', 'star', 'vaccine', 'music', 'climate'];
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      _id: `d${i}`,
      title: words[i % words.length],
      text: Array.from({ length: 3 + (i % 11) }, (_, j) => words[(i * 7 + j) % words.length]).join(' '),
    }),
  );
  await fs.writeFile(file, lines.join('\n') + '\n');
  return file;
}

function shardArgs(config: string, input: string, shard: string, outDir: string, seed = 3): string[] {
  return [
    'encode',
    '--model',
    `scratch:${config}`,
    '--input',
    input,
    '--shard',
    shard,
    '--out-dir',
    outDir,
    '--chunk-size',
    '8',
    '--batch-size',
    '4',
    '--max-length',
    '16',
    '--seed',
    String(seed),
    '--quiet',
  ];
}

/** Start a shard's encode and SIGKILL it as soon as its manifest lists a first chunk. */
async function killAfterFirstChunk(args: string[], outDir: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), ...args],
    {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (;;) {
    const m = await readShardManifest(outDir).catch(() => undefined);
    if (m !== undefined && m.chunks.length >= 1) break;
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  await exited;
}

test('kill -9 during sharded encoding, resume, merge: byte-identical to an uninterrupted run', async () => {
  const dir = tmpDir();
  const config = tinyConfig(dir);
  const input = await corpus(dir, 200);
  const clean = [path.join(dir, 'clean0'), path.join(dir, 'clean1')];
  for (const [i, out] of clean.entries()) {
    const r = await runCli(shardArgs(config, input, `${i}/2`, out));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`shard ${i}/2 complete: 100 texts in 13 chunks`));
  }
  const killed = path.join(dir, 'killed0');
  await killAfterFirstChunk(shardArgs(config, input, '0/2', killed), killed);
  const partial = await readShardManifest(killed);
  assert.ok(partial !== undefined && !partial.complete, 'the run was killed before it finished');
  const resumed = await runCli(shardArgs(config, input, '0/2', killed));
  assert.equal(resumed.code, 0, resumed.stderr);

  const outA = path.join(dir, 'a.npy');
  const outB = path.join(dir, 'b.npy');
  let r = await runCli(['encode', '--merge', clean[0], clean[1], '--output', outA, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['encode', '--merge', killed, clean[1], '--output', outB, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /merged 200 vectors of 2 shards/);
  assert.ok((await fs.readFile(outA)).equals(await fs.readFile(outB)), 'merged vectors differ');
  const ids = (await fs.readFile(path.join(dir, 'b.ids.txt'), 'utf8')).trim().split('\n');
  assert.deepEqual(
    ids,
    Array.from({ length: 200 }, (_, i) => `d${i}`),
  );
  const m = await readNpy(outB);
  assert.equal(m.rows, 200);
  assert.equal(m.cols, 16);
  // The merge writes the sidecars a plain encode writes: the meta the shards recorded, shaped as the merge.
  const meta = JSON.parse(await fs.readFile(path.join(dir, 'b.meta.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(meta.format, 'dense-retrieval.vectors');
  assert.equal(meta.rows, 200);
  assert.equal(meta.dim, 16);
  assert.equal(meta.ids, true);
  assert.equal(meta.model, `scratch:${config}`);
  assert.equal(meta.similarity, null);

  // The same rows, straight into pgvector (embedded).
  const ref = path.join(dir, 'merged.json');
  r = await runCli([
    'encode',
    '--merge',
    killed,
    clean[1],
    '--into',
    'pgvector',
    '--table',
    'corpus',
    '--output',
    ref,
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /merged 200 vectors of 2 shards into table corpus, embedded PGlite at/);

  // Another model's shard, and an incomplete set, are refused with what is wrong.
  const other = path.join(dir, 'other1');
  r = await runCli(shardArgs(config, input, '1/2', other, 7));
  assert.equal(r.code, 0, r.stderr);
  r = await runCli(['encode', '--merge', clean[0], other, '--output', path.join(dir, 'x.npy')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /other1: was encoded with another model/);
  r = await runCli(['encode', '--merge', clean[0], '--output', path.join(dir, 'x.npy')]);
  assert.match(r.stderr, /missing shard 1\/2/);
  await assert.rejects(fs.access(path.join(dir, 'x.npy')));
});
