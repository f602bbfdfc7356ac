import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  parsePoolingConfig,
  readSentenceTransformersLayout,
  writeSentenceTransformersFiles,
} from '../../src/checkpoint/sentence-transformers.js';
import { InputFormatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

const MODULES = [
  { idx: 0, name: '0', path: '', type: 'sentence_transformers.models.Transformer' },
  { idx: 1, name: '1', path: '1_Pooling', type: 'sentence_transformers.models.Pooling' },
];
const NORMALIZE = { idx: 2, name: '2', path: '2_Normalize', type: 'sentence_transformers.models.Normalize' };

function layoutDir(modules: object[], pooling: object | undefined, sbert?: object): string {
  const dir = tmpDir();
  writeFileSync(path.join(dir, 'modules.json'), JSON.stringify(modules));
  if (pooling !== undefined) {
    mkdirSync(path.join(dir, '1_Pooling'));
    writeFileSync(path.join(dir, '1_Pooling', 'config.json'), JSON.stringify(pooling));
  }
  if (sbert !== undefined) writeFileSync(path.join(dir, 'sentence_bert_config.json'), JSON.stringify(sbert));
  return dir;
}

test('legacy pooling booleans and the newer pooling_mode key', () => {
  assert.equal(
    parsePoolingConfig({
      pooling_mode_cls_token: false,
      pooling_mode_mean_tokens: true,
      pooling_mode_max_tokens: false,
    }),
    'mean',
  );
  assert.equal(parsePoolingConfig({ pooling_mode_cls_token: true, pooling_mode_mean_tokens: false }), 'cls');
  assert.equal(parsePoolingConfig({ pooling_mode_max_tokens: true }), 'max');
  assert.equal(parsePoolingConfig({ pooling_mode: 'cls' }), 'cls');
  assert.equal(
    parsePoolingConfig({ pooling_mode: 'mean', pooling_mode_cls_token: true }),
    'mean',
    'the newer key wins',
  );
  assert.equal(parsePoolingConfig({ pooling_mode: 'max_tokens' }), 'max');
});

test('unsupported or ambiguous pooling is an error, never a silent substitute', () => {
  assert.throws(
    () => parsePoolingConfig({ pooling_mode: 'sum' }, 'p.json'),
    (e: unknown) => {
      assert.ok(e instanceof InputFormatError);
      assert.equal(
        e.message,
        'p.json: unsupported pooling_mode "sum" (supported: cls, mean, max, mean_sqrt_len_tokens, weightedmean, lasttoken)',
      );
      return true;
    },
  );
  assert.throws(
    () => parsePoolingConfig({ pooling_mode_cls_token: true, pooling_mode_mean_tokens: true }, 'p.json'),
    /several pooling modes set \(pooling_mode_cls_token, pooling_mode_mean_tokens\)/,
  );
  assert.throws(
    () => parsePoolingConfig({ word_embedding_dimension: 8 }, 'p.json'),
    /p\.json: no pooling mode set/,
  );
});

test('every sentence-transformers pooling mode parses, new and legacy keys', () => {
  const legacy = {
    pooling_mode_cls_token: 'cls',
    pooling_mode_mean_tokens: 'mean',
    pooling_mode_max_tokens: 'max',
    pooling_mode_mean_sqrt_len_tokens: 'mean_sqrt_len_tokens',
    pooling_mode_weightedmean_tokens: 'weightedmean',
    pooling_mode_lasttoken: 'lasttoken',
  };
  for (const [key, mode] of Object.entries(legacy)) {
    assert.equal(parsePoolingConfig({ [key]: true }), mode);
    assert.equal(parsePoolingConfig({ pooling_mode: mode }), mode);
  }
  assert.equal(parsePoolingConfig({ pooling_mode: 'mean_tokens' }), 'mean');
});

test('reads pooling, normalize and max_seq_length from the layout', async () => {
  const dir = layoutDir([...MODULES, NORMALIZE], { pooling_mode_mean_tokens: true }, { max_seq_length: 256 });
  assert.deepEqual(await readSentenceTransformersLayout(dir), {
    transformerDir: dir,
    pooling: 'mean',
    normalize: true,
    maxSeqLength: 256,
    includePrompt: true,
    prompts: {},
    defaultPromptName: undefined,
    denseDirs: [],
    similarity: undefined,
  });
  const plain = layoutDir(MODULES, { pooling_mode: 'cls' });
  assert.deepEqual(await readSentenceTransformersLayout(plain), {
    transformerDir: plain,
    pooling: 'cls',
    normalize: false,
    maxSeqLength: undefined,
    includePrompt: true,
    prompts: {},
    defaultPromptName: undefined,
    denseDirs: [],
    similarity: undefined,
  });
  assert.equal(
    await readSentenceTransformersLayout(tmpDir()),
    undefined,
    'no modules.json: not a sentence-transformers dir',
  );
});

test('older layouts with the Transformer in a subdirectory', async () => {
  const dir = layoutDir([{ ...MODULES[0], path: '0_Transformer' }, MODULES[1]], {
    pooling_mode_max_tokens: true,
  });
  mkdirSync(path.join(dir, '0_Transformer'));
  writeFileSync(path.join(dir, '0_Transformer', 'sentence_bert_config.json'), '{"max_seq_length": 128}');
  const layout = await readSentenceTransformersLayout(dir);
  assert.equal(layout?.transformerDir, path.join(dir, '0_Transformer'));
  assert.equal(layout?.maxSeqLength, 128);
  assert.equal(layout?.pooling, 'max');
});

test('layout errors name the file', async () => {
  const unknown = layoutDir(
    [...MODULES, { idx: 2, name: '2', path: '2_LayerNorm', type: 'sentence_transformers.models.LayerNorm' }],
    { pooling_mode: 'mean' },
  );
  await assert.rejects(
    readSentenceTransformersLayout(unknown),
    new RegExp(
      `${unknown}/modules\\.json: unsupported module type sentence_transformers\\.models\\.LayerNorm \\(supported: Transformer, Pooling, Dense, Normalize, Router\\)`,
    ),
  );
  const noPoolingFile = layoutDir(MODULES, undefined);
  await assert.rejects(
    readSentenceTransformersLayout(noPoolingFile),
    new RegExp(
      `${noPoolingFile}/1_Pooling/config\\.json: file not found; modules\\.json lists a Pooling module that needs it`,
    ),
  );
  const badJson = tmpDir();
  writeFileSync(path.join(badJson, 'modules.json'), '[{');
  await assert.rejects(readSentenceTransformersLayout(badJson), /modules\.json: invalid JSON/);
  const badLen = layoutDir(MODULES, { pooling_mode: 'mean' }, { max_seq_length: 'long' });
  await assert.rejects(
    readSentenceTransformersLayout(badLen),
    /sentence_bert_config\.json: "max_seq_length" must be an integer >= 2, got "long"/,
  );
});

test('written files are what sentence-transformers expects, and read back the same', async () => {
  const dir = tmpDir();
  await writeSentenceTransformersFiles(dir, {
    pooling: 'max',
    normalize: true,
    maxSeqLength: 200,
    dimension: 384,
    similarity: 'cosine',
  });
  const modules = JSON.parse(readFileSync(path.join(dir, 'modules.json'), 'utf8'));
  assert.deepEqual(modules, [...MODULES, NORMALIZE]);
  assert.ok(existsSync(path.join(dir, '2_Normalize')));
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, '1_Pooling', 'config.json'), 'utf8')), {
    word_embedding_dimension: 384,
    pooling_mode_cls_token: false,
    pooling_mode_mean_tokens: false,
    pooling_mode_max_tokens: true,
    pooling_mode_mean_sqrt_len_tokens: false,
  });
  assert.deepEqual(JSON.parse(readFileSync(path.join(dir, 'sentence_bert_config.json'), 'utf8')), {
    max_seq_length: 200,
    do_lower_case: false,
  });
  const st = JSON.parse(readFileSync(path.join(dir, 'config_sentence_transformers.json'), 'utf8'));
  assert.equal(typeof st.__version__.sentence_transformers, 'string');
  assert.equal(st.similarity_fn_name, 'cosine');
  assert.deepEqual(await readSentenceTransformersLayout(dir), {
    transformerDir: dir,
    pooling: 'max',
    normalize: true,
    maxSeqLength: 200,
    includePrompt: true,
    prompts: {},
    defaultPromptName: undefined,
    denseDirs: [],
    similarity: 'cosine',
  });
});

test('a local modules.json path outside the model folder is refused, as the hub refuses it', async () => {
  for (const bad of ['../elsewhere', '/etc', '1_Pooling/../../x', 'a\\..\\b']) {
    const dir = layoutDir(
      [MODULES[0], { idx: 1, name: '1', path: bad, type: 'sentence_transformers.models.Pooling' }],
      { pooling_mode: 'mean' },
    );
    await assert.rejects(readSentenceTransformersLayout(dir), (e: unknown) => {
      assert.ok(e instanceof InputFormatError);
      assert.equal(e.file, path.join(dir, 'modules.json'));
      assert.match(e.message, /module 1 has path .* which leaves the model directory/);
      return true;
    });
  }
  const transformer = layoutDir([{ ...MODULES[0], path: '../other-model' }, MODULES[1]], {
    pooling_mode: 'mean',
  });
  await assert.rejects(readSentenceTransformersLayout(transformer), /module 0 has path "\.\.\/other-model"/);
  // A trailing slash, as some hand-written files have, is still inside.
  const ok = layoutDir([MODULES[0], { ...MODULES[1], path: '1_Pooling/' }], { pooling_mode: 'cls' });
  assert.equal((await readSentenceTransformersLayout(ok))?.pooling, 'cls');
});
