import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../../src/data/npy.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { archDir } from '../models/architectures/fixtures.js';
import { matrixRows, maxAbsDiff } from '../models/bert-fixture.js';

test('encode --prompt-name embeds with the named prompt of an include_prompt-false model (reference)', async () => {
  const dir = tmpDir();
  const model = path.join(dir, 'mpnet');
  cpSync(archDir('mpnet'), model, { recursive: true });
  writeFileSync(
    path.join(model, 'config_sentence_transformers.json'),
    JSON.stringify({ prompts: { query: 'query: ' }, default_prompt_name: null }),
  );
  const poolingFile = path.join(model, '1_Pooling', 'config.json');
  writeFileSync(
    poolingFile,
    JSON.stringify({ ...JSON.parse(readFileSync(poolingFile, 'utf8')), include_prompt: false }),
  );
  const ref = JSON.parse(readFileSync(path.join(model, 'reference.json'), 'utf8')) as {
    texts: string[];
    prompt: { mean_excluding_prompt: number[][] };
  };
  const input = path.join(dir, 'texts.txt');
  writeFileSync(input, ref.texts.join('\n') + '\n');
  const output = path.join(dir, 'q.npy');
  const args = ['encode', '--model', model, '--input', input, '--output', output, '--prompt-name'];
  const r = await runCli([...args, 'query']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /mean pooling, max length 64, prompt query\)/);
  const m = await readNpy(output);
  assert.ok(maxAbsDiff(matrixRows(m), ref.prompt.mean_excluding_prompt) < 1e-4);
  const bad = await runCli([...args, 'passage']);
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--prompt-name passage: the model has prompts query/);
});
