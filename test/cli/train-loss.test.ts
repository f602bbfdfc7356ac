import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

const TOPICS = 'river mountain desert ocean forest glacier volcano canyon meadow island swamp tundra'.split(
  ' ',
);

function beir(dir: string): string {
  const data = path.join(dir, 'beir');
  mkdirSync(path.join(data, 'qrels'), { recursive: true });
  const lines = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).join('\n') + '\n';
  writeFileSync(
    path.join(data, 'corpus.jsonl'),
    lines(
      TOPICS.map((t, i) => ({
        _id: `d${i}`,
        title: t,
        text: `the ${t} is near the ${TOPICS[(i + 1) % 12]}`,
      })),
    ),
  );
  writeFileSync(
    path.join(data, 'queries.jsonl'),
    lines(TOPICS.map((t, i) => ({ _id: `q${i}`, text: `tell me about the ${t}` }))),
  );
  writeFileSync(
    path.join(data, 'qrels', 'train.tsv'),
    'query-id\tcorpus-id\tscore\n' + TOPICS.map((_, i) => `q${i}\td${i}\t1`).join('\n') + '\n',
  );
  return data;
}

/** Run the CLI in this process and capture what it writes to stderr. */
async function run(args: string[]): Promise<{ code: number; stderr: string }> {
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

const dir = tmpDir();
const data = beir(dir);
const scratch = `scratch:${tinyConfig(dir)}`;
const short = ['--steps', '3', '--batch-size', '4', '--lr', '1e-3', '--quiet'];
let outs = 0;
const base = () => ['train', '--model', scratch, '--data', data, '--out', path.join(dir, `out${outs++}`)];

test('train --loss matryoshka trains on the prefixes and records the loss', async () => {
  const out = path.join(dir, 'matryoshka');
  const r = await run([
    'train',
    '--model',
    scratch,
    '--data',
    data,
    '--out',
    out,
    '--loss',
    'matryoshka',
    '--matryoshka-dims',
    '16,8,4',
    '--similarity',
    'cosine',
    '--cache-mini-batch',
    '3',
    ...short,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /batch 4 \(gradient cache, mini-batch 3\), Matryoshka loss at 16\/8\/4 dims, tied towers, cosine/,
  );
  const state = readFileSync(path.join(out, 'train_log.jsonl'), 'utf8');
  assert.match(state, /"loss":\d/);
});

test('train --loss gist trains with a frozen guide model', async () => {
  const r = await run([
    ...base(),
    '--loss',
    'gist',
    '--guide',
    scratch,
    '--gist-margin',
    '0.1',
    '--gist-margin-strategy',
    'relative',
    '--temperature',
    '0.05',
    '--similarity',
    'cosine',
    ...short,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /batch 4, GISTEmbed loss \(guide scratch:.*\), tied towers, cosine/);
});

test('train --loss: wrong combinations are one-line usage errors before any training', async () => {
  const cases: [string[], RegExp][] = [
    [
      ['--loss', 'triplet'],
      /--loss must be one of mnrl\|cached-mnrl\|matryoshka\|margin-mse\|distill-kl\|gist, got 'triplet'/,
    ],
    [
      ['--loss', 'matryoshka'],
      /--loss matryoshka needs --matryoshka-dims, e.g. --matryoshka-dims 384,128,64/,
    ],
    [['--loss', 'matryoshka', '--matryoshka-dims', '16,x'], /--matryoshka-dims must be positive integers/],
    [
      ['--loss', 'matryoshka', '--matryoshka-dims', '32,8'],
      /--matryoshka-dims 32 exceeds the model's 16 dimensions/,
    ],
    [['--temperature', '2'], /--temperature applies to --loss distill-kl\|gist, not --loss mnrl/],
    [
      ['--loss', 'margin-mse', '--scale', '5'],
      /--scale applies to --loss mnrl\|cached-mnrl\|matryoshka, not --loss margin-mse/,
    ],
    [['--loss', 'gist'], /--loss gist needs --guide MODEL/],
    [
      ['--loss', 'gist', '--guide', scratch],
      /--loss gist trains cosine similarity, but the model's is dot; add --similarity cosine/,
    ],
    [['--loss', 'distill-kl', '--temperature', '0'], /--temperature must be > 0, got 0/],
    [
      ['--loss', 'margin-mse'],
      /--loss margin-mse distils teacher scores, but training example 1 has none: train from a JSONL --train-file/,
    ],
    [['--loss', 'distill-kl', '--hard-negatives', '1'], /--loss distill-kl distils teacher scores/],
  ];
  for (const [extra, message] of cases) {
    const r = await run([...base(), ...extra, ...short]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /training on/);
  }
});
