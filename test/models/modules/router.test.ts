import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../../src/backend/index.js';
import { InputFormatError } from '../../../src/errors.js';
import { BiEncoder } from '../../../src/models/bi-encoder.js';
import { saveAsRouter } from '../../../src/models/modules/router.js';
import { SentenceEncoder } from '../../../src/models/sentence-encoder.js';
import { tmpDir } from '../../helpers/tmp.js';
import { archDir } from '../architectures/fixtures.js';
import { matrixRows, maxAbsDiff } from '../bert-fixture.js';

before(async () => {
  await initBackend();
});

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir)
    .flatMap((name) =>
      statSync(path.join(dir, name)).isDirectory()
        ? [`${prefix}${name}/`, ...listFiles(path.join(dir, name), `${prefix}${name}/`)]
        : [`${prefix}${name}`],
    )
    .sort();
}

const TEXTS = ['a short query', 'dense retrieval maps queries and passages to vectors.'];

test("an untied bi-encoder saves as sentence-transformers' Router layout and loads back", async () => {
  const query = await SentenceEncoder.load(archDir('roberta'), { quiet: true });
  const document = await SentenceEncoder.load(archDir('distilbert'), { quiet: true, normalize: true });
  const withPrompts = new SentenceEncoder({
    model: query.model,
    tokenizer: query.tokenizer,
    pooling: 'cls',
    normalize: false,
    maxSeqLength: 32,
    prompts: { query: 'query: ' },
  });
  const model = BiEncoder.untied(withPrompts, document, { similarity: 'cosine' });
  const dir = path.join(tmpDir('dr-router-'), 'router');
  await saveAsRouter(model, dir);
  const transformerFiles = (route: string) => [
    `${route}_0_Transformer/`,
    ...[
      'config.json',
      'model.safetensors',
      'sentence_bert_config.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ].map((f) => `${route}_0_Transformer/${f}`),
  ];
  const files = listFiles(dir);
  for (const f of [
    'config_sentence_transformers.json',
    'modules.json',
    'router_config.json',
    ...transformerFiles('query'),
    'query_1_Pooling/',
    'query_1_Pooling/config.json',
    ...transformerFiles('document'),
    'document_1_Pooling/',
    'document_1_Pooling/config.json',
    'document_2_Normalize/',
  ]) {
    assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
  }
  assert.ok(!files.some((f) => f.startsWith('query_2')), 'the query route does not normalize');
  assert.ok(!files.includes('bi_encoder.json'), 'only standard sentence-transformers files');
  const read = (f: string): unknown => JSON.parse(readFileSync(path.join(dir, f), 'utf8'));
  assert.deepEqual(read('modules.json'), [
    { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Router' },
  ]);
  assert.deepEqual(read('router_config.json'), {
    types: {
      query_0_Transformer: 'sentence_transformers.models.Transformer.Transformer',
      query_1_Pooling: 'sentence_transformers.models.Pooling.Pooling',
      document_0_Transformer: 'sentence_transformers.models.Transformer.Transformer',
      document_1_Pooling: 'sentence_transformers.models.Pooling.Pooling',
      document_2_Normalize: 'sentence_transformers.models.Normalize.Normalize',
    },
    structure: {
      query: ['query_0_Transformer', 'query_1_Pooling'],
      document: ['document_0_Transformer', 'document_1_Pooling', 'document_2_Normalize'],
    },
    parameters: { default_route: 'document', allow_empty_key: true },
  });
  const st = read('config_sentence_transformers.json') as Record<string, unknown>;
  assert.equal(st.similarity_fn_name, 'cosine');
  assert.deepEqual(st.prompts, { query: 'query: ' });
  assert.equal((read('query_1_Pooling/config.json') as Record<string, unknown>).pooling_mode_cls_token, true);
  assert.equal(
    (read('document_0_Transformer/config.json') as Record<string, unknown>).model_type,
    'distilbert',
  );

  const again = await BiEncoder.load(dir);
  assert.equal(again.tied, false);
  assert.equal(again.similarity, 'cosine');
  const same = async (a: Promise<{ data: Float32Array }>, b: Promise<{ data: Float32Array }>) =>
    assert.deepEqual(Array.from((await a).data), Array.from((await b).data));
  await same(again.encodeQueries(TEXTS, { quiet: true }), model.encodeQueries(TEXTS, { quiet: true }));
  await same(again.encodePassages(TEXTS, { quiet: true }), model.encodePassages(TEXTS, { quiet: true }));
  // One route as a SentenceEncoder: the default (document) one, or the one asked for.
  const byDefault = await SentenceEncoder.load(dir, { quiet: true });
  await same(byDefault.encode(TEXTS, { quiet: true }), document.encode(TEXTS, { quiet: true }));
  const byRoute = await SentenceEncoder.load(dir, { quiet: true, route: 'query' });
  assert.deepEqual(byRoute.prompts, { query: 'query: ' });
  await same(byRoute.encodeQuery(TEXTS, { quiet: true }), withPrompts.encodeQuery(TEXTS, { quiet: true }));
  await assert.rejects(
    SentenceEncoder.load(dir, { quiet: true, route: 'passage' }),
    (e: unknown) =>
      e instanceof InputFormatError && /no route 'passage' \(routes: query, document\)/.test(e.message),
  );
  for (const m of [byDefault, byRoute]) m.dispose();
  again.dispose();
  model.dispose();
});

test('Router models: a module after the Router applies to every route; errors about route modules name router_config.json', async () => {
  const query = await SentenceEncoder.load(archDir('mpnet'), { quiet: true });
  const document = await SentenceEncoder.load(archDir('modernbert'), { quiet: true });
  const dir = path.join(tmpDir('dr-router-stack-'), 'router');
  await saveAsRouter(BiEncoder.untied(query, document, { similarity: 'dot' }), dir);
  // As sentence-transformers' documentation builds it: SentenceTransformer(modules=[router, Normalize()]).
  writeFileSync(
    path.join(dir, 'modules.json'),
    JSON.stringify([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Router' },
      { idx: 1, name: '1', path: '1_Normalize', type: 'sentence_transformers.models.Normalize' },
    ]),
  );
  mkdirSync(path.join(dir, '1_Normalize'));
  rmSync(path.join(dir, 'dense_retrieval_manifest.json'));
  const byRoute = await SentenceEncoder.load(dir, { quiet: true, route: 'query' });
  assert.equal(byRoute.normalize, true);
  const expected = await query.encode(TEXTS, { quiet: true, normalize: true });
  const got = await byRoute.encode(TEXTS, { quiet: true });
  // Normalized in the graph vs after encode: equal up to float32 rounding.
  assert.ok(maxAbsDiff(matrixRows(got), matrixRows(expected)) < 1e-6);
  byRoute.dispose();
  // An unknown module in a route: the error names router_config.json, the file that lists it.
  const configFile = path.join(dir, 'router_config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { types: Record<string, string> };
  config.types.query_1_Pooling = 'sentence_transformers.models.LayerNorm';
  writeFileSync(configFile, JSON.stringify(config));
  await assert.rejects(
    SentenceEncoder.load(dir, { quiet: true, route: 'query' }),
    (e: unknown) =>
      e instanceof InputFormatError &&
      e.message.startsWith(
        `${configFile}: unsupported module type sentence_transformers.models.LayerNorm (supported: Transformer, Pooling, Dense, Normalize, Router)`,
      ),
  );
  // A Router anywhere but first is refused, naming modules.json.
  writeFileSync(
    path.join(dir, 'modules.json'),
    JSON.stringify([
      { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
      { idx: 1, name: '1', path: 'r', type: 'sentence_transformers.models.Router' },
    ]),
  );
  await assert.rejects(
    SentenceEncoder.load(dir, { quiet: true }),
    (e: unknown) =>
      e instanceof InputFormatError &&
      e.message ===
        `${path.join(dir, 'modules.json')}: a Router module must be the first module (found at 1)`,
  );
  query.dispose();
  document.dispose();
});
