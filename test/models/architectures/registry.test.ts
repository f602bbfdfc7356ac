import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../../src/backend/index.js';
import { InputFormatError } from '../../../src/errors.js';
import {
  architectureFor,
  parseEncoderConfig,
  randomEncoder,
  SUPPORTED_MODEL_TYPES,
} from '../../../src/models/architectures/registry.js';
import { loadTransformer } from '../../../src/models/transformer-loader.js';
import { tmpDir } from '../../helpers/tmp.js';

before(async () => {
  await initBackend();
});

test('the registry knows every architecture of docs/models.md', () => {
  assert.deepEqual([...SUPPORTED_MODEL_TYPES].sort(), [
    'bert',
    'distilbert',
    'modernbert',
    'mpnet',
    'roberta',
    'xlm-roberta',
  ]);
});

test('an unsupported model_type is an InputFormatError naming the file and the supported types', () => {
  assert.throws(
    () => parseEncoderConfig({ model_type: 'gpt2' }, 'm/config.json'),
    (e: unknown) => {
      assert.ok(e instanceof InputFormatError);
      assert.equal(
        e.message,
        `m/config.json: unsupported model_type "gpt2"; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`,
      );
      return true;
    },
  );
  assert.throws(() => parseEncoderConfig({}, 'c.json'), /c\.json: missing "model_type" \(supported: bert, /);
  assert.throws(() => architectureFor(7, 'x.json'), /x\.json: unsupported model_type 7/);
});

test('loadTransformer names config.json when the model_type is unsupported', async () => {
  const dir = tmpDir('registry');
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 't5' }));
  await assert.rejects(
    loadTransformer(dir),
    (e: unknown) =>
      e instanceof InputFormatError &&
      e.message.startsWith(`${path.join(dir, 'config.json')}: unsupported model_type "t5"; supported: bert`),
  );
});

test('each model_type parses with its own defaults and max sequence length', () => {
  const small = { hidden_size: 8, num_attention_heads: 2, num_hidden_layers: 1, intermediate_size: 16 };
  const roberta = parseEncoderConfig({ model_type: 'roberta', ...small, max_position_embeddings: 514 });
  assert.equal(roberta.pad_token_id, 1);
  assert.equal(architectureFor('roberta').maxSequenceLength(roberta), 512);
  const distil = parseEncoderConfig({
    model_type: 'distilbert',
    dim: 8,
    n_heads: 2,
    n_layers: 1,
    hidden_dim: 16,
  });
  assert.equal(distil.hidden_size, 8);
  assert.equal(distil.num_hidden_layers, 1);
  assert.equal(distil.intermediate_size, 16);
  const model = randomEncoder(distil, 1);
  const saved = model.hfConfig();
  assert.equal(saved.dim, 8);
  assert.equal(saved.hidden_size, undefined, 'DistilBERT configs are written back under their own names');
  assert.deepEqual(saved.architectures, ['DistilBertModel']);
  model.dispose();
  assert.throws(
    () =>
      parseEncoderConfig({ model_type: 'mpnet', ...small, relative_attention_num_buckets: 'x' }, 'c.json'),
    /c\.json: "relative_attention_num_buckets" must be an integer >= 4/,
  );
});
