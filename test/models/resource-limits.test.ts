import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { loadModel } from '../../src/models/load.js';
import { MODEL_MANIFEST } from '../../src/checkpoint/model-dir.js';
import { InputFormatError } from '../../src/errors.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../../src/tokenize/tokenizer.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

before(async () => {
  await initBackend();
});

function rejectsNaming(file: string, re: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof InputFormatError, `expected InputFormatError, got ${String(e)}`);
    assert.equal(e.file, file);
    assert.match(e.message, re);
    return true;
  };
}

function editJson(file: string, edit: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

test('num_hidden_layers: 1e9 next to real weights is refused before allocating, naming the field and file', async () => {
  const dir = tmpDir();
  const enc = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 1 });
  const out = path.join(dir, 'model');
  await enc.save(out);
  enc.dispose();
  rmSync(path.join(out, MODEL_MANIFEST)); // a hand-edited config, as in a model from elsewhere
  const config = path.join(out, 'config.json');
  editJson(config, (j) => (j.num_hidden_layers = 1e9));
  await assert.rejects(
    loadModel(out, { quiet: true }),
    rejectsNaming(config, /"num_hidden_layers" is 1000000000 but the weights have 1 layer/),
  );
  editJson(config, (j) => (j.num_hidden_layers = 2));
  await assert.rejects(loadModel(out, { quiet: true }), rejectsNaming(config, /"num_hidden_layers" is 2/));
});

test('scratch configs too large to initialise are refused naming the field', async () => {
  const dir = tmpDir();
  const config = tinyConfig(dir);
  const cases: [string, number][] = [
    ['hidden_size', 1e9],
    ['num_hidden_layers', 1e9],
    ['vocab_size', 1e12],
    ['intermediate_size', 1e10],
  ];
  for (const [field, value] of cases) {
    const file = path.join(dir, `${field}.json`);
    cpSync(config, file);
    editJson(file, (j) => {
      j[field] = value;
      if (field === 'hidden_size') j.num_attention_heads = 1;
    });
    await assert.rejects(
      loadModel(`scratch:${file}`, { quiet: true }),
      rejectsNaming(
        file,
        new RegExp(`"${field}" is ${value}: this config has .* parameters, more than the 1e\\+9`),
      ),
    );
  }
});

test('a tokenizer.json with a vocab id of 1e9 is refused at once, naming tokenizer.json', async () => {
  const dir = tmpDir();
  const tok = path.join(dir, 'tok');
  cpSync(BUNDLED_TOKENIZERS.bertBaseUncased, tok, { recursive: true });
  const file = path.join(tok, 'tokenizer.json');
  const original = readFileSync(file, 'utf8');
  editJson(file, (j) => ((j.model as { vocab: Record<string, number> }).vocab.rain = 1e9));
  await assert.rejects(
    TextTokenizer.fromDirectory(tok),
    rejectsNaming(file, /token "rain" has id 1000000000, far beyond the \d+ ids the vocabulary holds/),
  );
  writeFileSync(file, original);
  editJson(file, (j) => ((j.model as { vocab: Record<string, unknown> }).vocab.rain = 'x'));
  await assert.rejects(TextTokenizer.fromDirectory(tok), rejectsNaming(file, /vocab id "x" of token "rain"/));
  writeFileSync(file, original);
  editJson(file, (j) => ((j.added_tokens as { id: number }[])[0].id = -1));
  await assert.rejects(TextTokenizer.fromDirectory(tok), rejectsNaming(file, /added token id -1/));
  writeFileSync(file, original);
  assert.ok((await TextTokenizer.fromDirectory(tok)).vocabSize > 30000);
});
