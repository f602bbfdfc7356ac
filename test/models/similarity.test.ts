import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { InputFormatError } from '../../src/errors.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { loadRetrievalModel, towerEncoder } from '../../src/models/load-retrieval-model.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

const config = tinyConfig(tmpDir());
const scratch = (seed: number) => SentenceEncoder.fromScratch(config, undefined, { seed });
const stConfig = (dir: string) =>
  JSON.parse(readFileSync(path.join(dir, 'config_sentence_transformers.json'), 'utf8'));

before(async () => {
  await initBackend();
});

test("a saved bi-encoder records its similarity as sentence-transformers' similarity_fn_name and loads with it", async () => {
  const dir = tmpDir();
  const tied = BiEncoder.tied(await scratch(1), { similarity: 'cosine' });
  await tied.save(path.join(dir, 'tied'));
  tied.dispose();
  assert.equal(stConfig(path.join(dir, 'tied')).similarity_fn_name, 'cosine');
  assert.equal(
    JSON.parse(readFileSync(path.join(dir, 'tied', 'bi_encoder.json'), 'utf8')).similarity,
    'cosine',
  );

  const untied = BiEncoder.untied(await scratch(1), await scratch(2), { similarity: 'cosine' });
  await untied.save(path.join(dir, 'untied'));
  untied.dispose();
  // Untied SentenceEncoder towers are one sentence-transformers Router model: one similarity_fn_name.
  assert.equal(stConfig(path.join(dir, 'untied')).similarity_fn_name, 'cosine');
  for (const name of ['tied', 'untied']) {
    const model = await loadRetrievalModel(path.join(dir, name), { quiet: true });
    assert.equal(model.similarity, 'cosine');
    assert.equal(model.similarityIsDefault, false);
    assert.equal(model.tied, name === 'tied');
    model.dispose();
  }
});

test('a plain sentence-transformers directory takes its similarity_fn_name; without one it is the dot default', async () => {
  const dir = tmpDir();
  const encoder = await scratch(4);
  await encoder.save(dir);
  encoder.dispose();
  // As sentence-transformers writes it: no dense-retrieval manifest, so the file edits below are not a
  // damaged save.
  rmSync(path.join(dir, 'dense_retrieval_manifest.json'));
  let model = await loadRetrievalModel(dir, { quiet: true });
  assert.equal(model.similarity, 'dot');
  assert.equal(model.similarityIsDefault, true);
  model.dispose();
  const file = path.join(dir, 'config_sentence_transformers.json');
  writeFileSync(file, JSON.stringify({ ...stConfig(dir), similarity_fn_name: 'cosine' }));
  model = await loadRetrievalModel(dir, { quiet: true });
  assert.equal(model.similarity, 'cosine');
  assert.equal(model.queryEncoder.similarity, 'cosine');
  // Saving the encoder again keeps it.
  const again = path.join(tmpDir(), 'again');
  await model.queryEncoder.save(again);
  assert.equal(stConfig(again).similarity_fn_name, 'cosine');
  model.dispose();
  writeFileSync(file, JSON.stringify({ similarity_fn_name: 'hamming' }));
  await assert.rejects(loadRetrievalModel(dir, { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.match(e.message, /unknown similarity_fn_name "hamming"/);
    return true;
  });
  writeFileSync(file, JSON.stringify({ similarity_fn_name: 'manhattan' }));
  await assert.rejects(
    loadRetrievalModel(dir, { quiet: true }),
    /'manhattan' is not supported by a bi-encoder/,
  );
});

test('bi_encoder.json and similarity_fn_name must agree; an untied model needs a tower to encode one', async () => {
  const dir = tmpDir();
  const model = BiEncoder.untied(await scratch(1), await scratch(2), { similarity: 'dot' });
  assert.throws(() => towerEncoder(model), /tower: the model has separate query and passage towers/);
  assert.equal(towerEncoder(model, 'passage'), model.passageEncoder);
  // The query/ + passage/ + bi_encoder.json layout (what untied towers of other encoders are saved as, and
  // what earlier versions wrote for SentenceEncoder towers), assembled by hand without manifests.
  await model.queryEncoder.save(path.join(dir, 'query'));
  await model.passageEncoder.save(path.join(dir, 'passage'));
  model.dispose();
  writeFileSync(
    path.join(dir, 'bi_encoder.json'),
    JSON.stringify({
      format: 'dense-retrieval.bi-encoder',
      version: 1,
      tied: false,
      similarity: 'dot',
      query: 'query',
      passage: 'passage',
    }),
  );
  for (const d of [path.join(dir, 'query'), path.join(dir, 'passage')]) {
    rmSync(path.join(d, 'dense_retrieval_manifest.json'));
  }
  const loaded = await loadRetrievalModel(dir, { quiet: true });
  assert.equal(loaded.tied, false);
  assert.equal(loaded.similarity, 'dot');
  loaded.dispose();
  const file = path.join(dir, 'passage', 'config_sentence_transformers.json');
  writeFileSync(
    file,
    JSON.stringify({ ...stConfig(path.join(dir, 'passage')), similarity_fn_name: 'cosine' }),
  );
  await assert.rejects(
    loadRetrievalModel(dir, { quiet: true }),
    /similarity 'dot' disagrees with similarity_fn_name 'cosine' of .*passage/,
  );
});
