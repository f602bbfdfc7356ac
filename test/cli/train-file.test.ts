import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
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
  ];
  for (const [extra, code, message] of cases) {
    const r = await runInProcess([...base, ...extra]);
    assert.equal(r.code, code, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
