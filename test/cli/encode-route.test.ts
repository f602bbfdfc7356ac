import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { readNpy } from '../../src/data/npy.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { archDir } from '../models/architectures/fixtures.js';

before(async () => {
  await initBackend();
});

test('encode --tower (or its alias --route) picks the tower of an untied (Router) model; none is an error', async () => {
  const dir = tmpDir();
  const q = await SentenceEncoder.load(archDir('mpnet'), { quiet: true });
  const p = await SentenceEncoder.load(archDir('distilbert'), { quiet: true });
  const model = BiEncoder.untied(q, p, { similarity: 'cosine' });
  const saved = path.join(dir, 'untied');
  await model.save(saved);
  const texts = ['a short query', 'dense vectors'];
  const input = path.join(dir, 'texts.txt');
  writeFileSync(input, texts.join('\n') + '\n');
  const encodeTo = async (out: string, extra: string[]) => {
    const r = await runCli(['encode', '--model', saved, '--input', input, '--output', out, ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return Array.from((await readNpy(out)).data);
  };
  const query = await encodeTo(path.join(dir, 'q.npy'), ['--route', 'query']);
  const document = await encodeTo(path.join(dir, 'd.npy'), ['--route', 'document']);
  const passage = await encodeTo(path.join(dir, 'p.npy'), ['--tower', 'passage']);
  assert.deepEqual(query, Array.from((await q.encode(texts, { quiet: true })).data));
  assert.deepEqual(document, Array.from((await p.encode(texts, { quiet: true })).data));
  assert.deepEqual(passage, document);
  const none = await runCli([
    'encode',
    '--model',
    saved,
    '--input',
    input,
    '--output',
    path.join(dir, 'n.npy'),
  ]);
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /--tower query/);
  const clash = await runCli([
    'encode',
    ...['--model', saved, '--input', input, '--output', path.join(dir, 'c.npy')],
    ...['--tower', 'query', '--route', 'document'],
  ]);
  assert.notEqual(clash.code, 0);
  assert.match(clash.stderr, /name different towers/);
  model.dispose();
});
