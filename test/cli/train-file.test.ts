import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

const TOPICS = 'river mountain desert ocean forest glacier volcano canyon meadow island swamp tundra'.split(
  ' ',
);

/** A BEIR directory (corpus and queries only: id-form training files need no qrels). */
function beir(dir: string): string {
  const data = path.join(dir, 'beir');
  mkdirSync(data, { recursive: true });
  writeFileSync(
    path.join(data, 'corpus.jsonl'),
    TOPICS.map((t, i) => JSON.stringify({ _id: `d${i}`, title: t, text: `the ${t} is wide` })).join('\n') +
      '\n',
  );
  writeFileSync(
    path.join(data, 'queries.jsonl'),
    TOPICS.map((t, i) => JSON.stringify({ _id: `q${i}`, text: `tell me about the ${t}` })).join('\n') + '\n',
  );
  return data;
}

/** Run the CLI in this process and capture stderr (no child start-up for the error cases). */
async function runInProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

test('train --train-file: text form without --data, id form against --data', async () => {
  const dir = tmpDir();
  const scratch = `scratch:${tinyConfig(dir)}`;
  const text = path.join(dir, 'text.jsonl');
  writeFileSync(
    text,
    TOPICS.map((t, i) =>
      JSON.stringify({
        query: `what is a ${t}`,
        positive: `a ${t} is a place`,
        negatives: [`a ${TOPICS[(i + 1) % 12]} is elsewhere`],
      }),
    ).join('\n') + '\n',
  );
  const out = path.join(dir, 'out-text');
  const common = ['--steps', '2', '--batch-size', '4', '--max-length', '16', '--quiet'];
  const r = await runCli(['train', '--model', scratch, '--train-file', text, '--out', out, ...common]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /training on 12 pairs of .*text\.jsonl, batch 4/);
  assert.match(r.stderr, /trained 2\/2 steps/);
  assert.equal(readFileSync(path.join(out, 'train_log.jsonl'), 'utf8').trim().split('\n').length, 2);

  const data = beir(dir);
  const ids = path.join(dir, 'ids.jsonl');
  writeFileSync(
    ids,
    TOPICS.map((_, i) =>
      JSON.stringify({ query_id: `q${i}`, positive_id: `d${i}`, negative_ids: [`d${(i + 3) % 12}`] }),
    ).join('\n') + '\n',
  );
  const r2 = await runCli([
    'train',
    '--model',
    scratch,
    '--train-file',
    ids,
    '--data',
    data,
    '--out',
    path.join(dir, 'out-ids'),
    ...common,
  ]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stderr, /training on 12 pairs of .*ids\.jsonl, batch 4/);
});

test('train --train-file errors: id form without --data names file:line; conflicting flags', async () => {
  const dir = tmpDir();
  const scratch = `scratch:${tinyConfig(dir)}`;
  const ids = path.join(dir, 'ids.jsonl');
  writeFileSync(ids, '{"query": "q", "positive": "p"}\n{"query_id": "q1", "positive_id": "d1"}\n');
  const text = path.join(dir, 'text.jsonl');
  writeFileSync(
    text,
    [0, 1, 2, 3]
      .map((i) => JSON.stringify({ query: `q${i}`, positive: `p${i}`, negatives: [`n${i}`] }))
      .join('\n'),
  );
  const base = ['train', '--model', scratch, '--out', path.join(dir, 'out'), '--quiet'];
  const cases: [string[], number, RegExp][] = [
    [['--train-file', ids], 1, /ids\.jsonl:2: field 'query_id' names a query, but no queries were given/],
    [['--train-file', path.join(dir, 'none.jsonl')], 2, /--train-file: no such file: .*none\.jsonl/],
    [['--train-file', ids, '--train-file', ids], 2, /--train-file: a file is given twice/],
    [['--train-file', ids, '--hard-negatives', '2'], 2, /--hard-negatives mines from the qrels/],
    [['--train-file', ids, '--split', 'train'], 2, /--split chooses the qrels/],
    [['--train-file', ids, '--eval-split', 'test'], 2, /--eval-split needs --data/],
    [['--train-file', ids, '--data', path.join(dir, 'nodir')], 1, /nodir: no such directory/],
    [[], 2, /missing required option --data/],
    [
      ['--train-file', ids, '--sampling', 'round-robin'],
      2,
      /--sampling interleaves several datasets: give two or more --train-file/,
    ],
    [
      ['--train-file', ids, '--train-file', text, '--sampling', 'random'],
      2,
      /--sampling must be one of round-robin\|proportional/,
    ],
    [
      ['--train-file', text, '--group-size', '3'],
      1,
      /groupSize: 3 needs 2 negatives per example, but example 0 has 1/,
    ],
  ];
  for (const [extra, code, message] of cases) {
    const r = await runInProcess([...base, ...extra]);
    assert.equal(r.code, code, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

/** A training file of `n` text-form lines with pools of 3..5 negatives (some shared across lines). */
function pooledFile(dir: string, name: string, n: number): string {
  const file = path.join(dir, `${name}.jsonl`);
  writeFileSync(
    file,
    Array.from({ length: n }, (_, i) => {
      const t = TOPICS[i % 12];
      // Mined pools overlap: one negative is shared with every fourth line.
      const negatives = [
        `${name}: the shared ${TOPICS[(i + 5) % 12]} ${i % 4}`,
        ...Array.from(
          { length: 2 + (i % 3) },
          (_, j) => `${name}: the ${TOPICS[(i + j + 1) % 12]} ${i}-${j}`,
        ),
      ];
      return JSON.stringify({
        query: `${name}: where is the ${t} ${i}`,
        positive: `${name}: the ${t} ${i} is here`,
        negatives,
        scores: { positive: 5 + (i % 2), negatives: negatives.map((_, j) => -j) },
      });
    }).join('\n') + '\n',
  );
  return file;
}

function trainArgs(scratch: string, files: string[], out: string): string[] {
  return [
    'train',
    '--model',
    scratch,
    ...files.flatMap((f) => ['--train-file', f]),
    '--sampling',
    'round-robin',
    '--group-size',
    '3',
    '--out',
    out,
    '--epochs',
    '6',
    '--batch-size',
    '4',
    '--lr',
    '1e-3',
    '--max-length',
    '16',
    '--checkpoint-every',
    '2',
    '--seed',
    '5',
    '--quiet',
  ];
}

function logOf(out: string): { step: number; loss: number; dataset: string }[] {
  return readFileSync(path.join(out, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));
}

/** Start `train` as a child and SIGKILL it as soon as its first checkpoint is complete. */
async function killAfterFirstCheckpoint(args: string[], out: string): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/main.ts'), ...args],
    {
      cwd: REPO_ROOT,
      stdio: 'ignore',
    },
  );
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const checkpoints = path.join(out, 'checkpoints');
  while (child.exitCode === null) {
    // Checkpoints are renamed into place whole: a listed step-N is complete.
    if (existsSync(checkpoints) && readdirSync(checkpoints).some((n) => /^step-\d+$/.test(n))) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  await exited;
}

test('train --train-file with two datasets and negative pools resumes bit-exactly after kill -9', async () => {
  const dir = tmpDir();
  const scratch = `scratch:${tinyConfig(dir)}`;
  const files = [pooledFile(dir, 'alpha', 12), pooledFile(dir, 'beta', 16)];
  const clean = path.join(dir, 'clean');
  const r = await runCli(trainArgs(scratch, files, clean));
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /training on 28 pairs of .*alpha\.jsonl, .*beta\.jsonl \(round-robin sampling\), group size 3, batch 4/,
  );
  const full = logOf(clean);
  assert.ok(full.length >= 20, `${full.length} steps`);
  // Round-robin: the batches alternate between the two files.
  assert.deepEqual(
    full.slice(0, 4).map((x) => x.dataset),
    ['alpha', 'beta', 'alpha', 'beta'],
  );

  const killed = path.join(dir, 'killed');
  await killAfterFirstCheckpoint(trainArgs(scratch, files, killed), killed);
  assert.ok(!existsSync(path.join(killed, 'model.safetensors')), 'the run was killed before it finished');
  const partial = logOf(killed);
  assert.ok(partial.length < full.length, `killed after ${partial.length} of ${full.length} steps`);
  const resumed = await runCli([...trainArgs(scratch, files, killed), '--resume']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /\(resumed from step \d+\)/);
  // Every step's loss (as JSON: the exact doubles), and the saved weights byte for byte.
  assert.deepEqual(
    logOf(killed).map((x) => [x.step, x.loss, x.dataset]),
    full.map((x) => [x.step, x.loss, x.dataset]),
  );
  assert.ok(
    readFileSync(path.join(killed, 'model.safetensors')).equals(
      readFileSync(path.join(clean, 'model.safetensors')),
    ),
    'the resumed model differs from the uninterrupted one',
  );
});
