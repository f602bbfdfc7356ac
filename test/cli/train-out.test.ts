import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { trainCommand } from '../../src/cli/commands/train.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

const TOPICS = 'river mountain desert ocean forest glacier'.split(' ');

function beir(dir: string): string {
  const data = path.join(dir, 'beir');
  mkdirSync(path.join(data, 'qrels'), { recursive: true });
  writeFileSync(
    path.join(data, 'corpus.jsonl'),
    TOPICS.map((t, i) => JSON.stringify({ _id: `d${i}`, text: `the ${t} is wide` })).join('\n') + '\n',
  );
  writeFileSync(
    path.join(data, 'queries.jsonl'),
    TOPICS.map((t, i) => JSON.stringify({ _id: `q${i}`, text: `about the ${t}` })).join('\n') + '\n',
  );
  writeFileSync(
    path.join(data, 'qrels', 'train.tsv'),
    'query-id\tcorpus-id\tscore\n' + TOPICS.map((_, i) => `q${i}\td${i}\t1`).join('\n') + '\n',
  );
  return data;
}

async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const err = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += c.toString()), true)) as typeof err;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = err;
  }
}

test('train --help states the rule for an existing --out', () => {
  assert.match(trainCommand.help, /An existing, non-empty DIR is refused unless --resume .* or\n--overwrite/);
  assert.match(trainCommand.help, /--overwrite {13}train afresh into an existing DIR/);
});

test('train refuses an existing --out without checkpoints unless --overwrite; --resume needs a checkpoint', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'out');
  // --checkpoint-every larger than the run: no checkpoint is written, only the model and the log.
  const args = [
    ...['train', '--model', `scratch:${tinyConfig(dir)}`, '--data', beir(dir), '--out', out],
    ...['--steps', '1', '--batch-size', '3', '--checkpoint-every', '100', '--quiet'],
  ];
  const first = await cli(args);
  assert.equal(first.code, 0, first.stderr);
  assert.ok(!existsSync(path.join(out, 'checkpoints', 'step-00000001')));
  const model = readFileSync(path.join(out, 'model.safetensors'));
  const log = readFileSync(path.join(out, 'train_log.jsonl'), 'utf8');

  const again = await cli(args);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /--out .*out already exists and is not empty; give --resume .* --overwrite/);
  assert.deepEqual(readFileSync(path.join(out, 'model.safetensors')), model, 'the model is untouched');
  assert.equal(readFileSync(path.join(out, 'train_log.jsonl'), 'utf8'), log, 'the log is untouched');

  const resume = await cli([...args, '--resume']);
  assert.equal(resume.code, 2);
  assert.match(resume.stderr, /--resume: .* holds a model but no checkpoint to resume from; use --overwrite/);

  writeFileSync(path.join(out, 'notes.txt'), 'mine');
  const overwrite = await cli([...args, '--seed', '7', '--overwrite']);
  assert.equal(overwrite.code, 0, overwrite.stderr);
  assert.notDeepEqual(readFileSync(path.join(out, 'model.safetensors')), model, 'a new model');
  assert.equal(readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine', 'other files are left');

  const both = await cli([...args, '--resume', '--overwrite']);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--resume and --overwrite exclude each other/);
});
