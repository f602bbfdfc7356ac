import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../src/cli/registry.js';
import { writeNpy } from '../../src/data/npy.js';
import { BinaryIndex } from '../../src/index/binary.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { ensureBuilt } from '../helpers/build.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * A module-resolution hook (node:module `register`) that reports every bare package a process resolves,
 * through ESM or CommonJS, to stderr: how the tests see what a command loads, without timing anything.
 */
const TRACE_HOOK = `
import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent(\`
export async function resolve(specifier, context, next) {
  if (!/^(node:|\\\\.|\\\\/|file:|data:)/.test(specifier)) process.stderr.write('resolve ' + specifier + '\\\\n');
  return next(specifier, context);
}\`));
`;

function packagesLoadedBy(args: string[]): {
  status: number | null;
  packages: Set<string>;
  stdout: string;
  stderr: string;
} {
  const dir = tmpDir('dr-startup-');
  const hook = path.join(dir, 'trace.mjs');
  writeFileSync(hook, TRACE_HOOK);
  const r = spawnSync(
    process.execPath,
    ['--import', hook, path.join(REPO_ROOT, 'bin', 'dense-retrieval.js'), ...args],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  const packages = new Set(
    [...r.stderr.matchAll(/^resolve (\S+)$/gm)].map((m) =>
      m[1]
        .split('/')
        .slice(0, m[1].startsWith('@') ? 2 : 1)
        .join('/'),
    ),
  );
  return { status: r.status, packages, stdout: r.stdout, stderr: r.stderr };
}

const HEAVY = [
  '@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm',
  '@huggingface/tokenizers',
  'hnswlib-node',
];

test('--help, evaluate --help and evaluate load neither tfjs, the tokenizers nor native addons', () => {
  ensureBuilt();
  const dir = tmpDir('dr-startup-data-');
  const qrels = path.join(dir, 'qrels.txt');
  const run = path.join(dir, 'run.txt');
  writeFileSync(qrels, 'q1 0 d1 1\n');
  writeFileSync(run, 'q1 Q0 d1 1 1.0 t\n');
  // The trace itself is checked: a command that runs a model does resolve tfjs.
  const train = packagesLoadedBy([
    'encode',
    '--model',
    'nowhere/none',
    '--input',
    qrels,
    '--out',
    path.join(dir, 'x.npy'),
  ]);
  assert.ok(train.packages.has('@tensorflow/tfjs'), `trace saw ${[...train.packages].join(', ')}`);
  for (const args of [['--help'], ['evaluate', '--help'], ['evaluate', '--qrels', qrels, '--run', run]]) {
    const { status, packages, stdout } = packagesLoadedBy(args);
    assert.equal(status, 0, args.join(' '));
    assert.ok(stdout.length > 0);
    for (const heavy of HEAVY) assert.ok(!packages.has(heavy), `'${args.join(' ')}' loaded ${heavy}`);
  }
});

test('index search on an hnsw or binary index loads no tfjs (only the exact and int8 kinds initialise it)', async () => {
  ensureBuilt();
  const dir = tmpDir('dr-startup-index-');
  const dim = 8;
  const data = Float32Array.from({ length: 40 * dim }, (_, i) => Math.sin(i * 1.7));
  const vectors = { data, rows: 40, cols: dim };
  const ids = Array.from({ length: 40 }, (_, i) => `d${i}`);
  const queries = path.join(dir, 'q.npy');
  await writeNpy(queries, { data: data.subarray(0, 3 * dim), rows: 3, cols: dim });
  const binary = new BinaryIndex({ dim, metric: 'ip' });
  await binary.add(vectors, ids);
  await binary.save(path.join(dir, 'b.idx'));
  const hnsw = new HnswIndex({ dim, metric: 'cosine', M: 8 });
  await hnsw.add(vectors, ids);
  await hnsw.save(path.join(dir, 'h.idx'));
  for (const name of ['b.idx', 'h.idx']) {
    const args = [
      'index',
      'search',
      '--index',
      path.join(dir, name),
      '--queries',
      queries,
      '--k',
      '3',
      '--row-numbers',
    ];
    const { status, packages, stderr } = packagesLoadedBy([
      ...args,
      '--output',
      path.join(dir, `${name}.run`),
    ]);
    assert.equal(status, 0, `${name}: ${stderr.replace(/^resolve .*\n/gm, '')}`);
    assert.ok(!packages.has('@tensorflow/tfjs'), `index search on ${name} loaded tfjs`);
    assert.ok(
      !packages.has('@tensorflow/tfjs-backend-wasm'),
      `index search on ${name} loaded the wasm backend`,
    );
  }
});

test('the command list and each command module agree on names and summaries', async () => {
  for (const entry of COMMANDS) {
    const command = await entry.load();
    assert.equal(command.name, entry.name);
    assert.equal(command.summary, entry.summary);
  }
});
