import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { POOLING_MODES } from '../../src/models/pooling.js';
import type { PoolingMode } from '../../src/models/pooling.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { ARCH_FIXTURES, archDir } from './architectures/fixtures.js';
import { matrixRows, maxAbsDiff } from './bert-fixture.js';

/** Prompts (config_sentence_transformers.json) and include_prompt (1_Pooling/config.json). */

before(async () => {
  await initBackend();
});

interface PromptReference {
  texts: string[];
  prompt: {
    prompt: string;
    prompt_length: number;
    input_ids: number[][];
    mean_including_prompt: number[][];
    mean_excluding_prompt: number[][];
    excluding_prompt: Record<PoolingMode, number[][]>;
  };
}

/** A copy of a fixture checkpoint with e5-style prompts and, optionally, include_prompt false. */
function withPrompts(arch: string, includePrompt: boolean): string {
  const dir = path.join(tmpDir('dr-prompts-'), arch);
  cpSync(archDir(arch), dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'config_sentence_transformers.json'),
    JSON.stringify({ prompts: { query: 'query: ', document: 'passage: ' }, default_prompt_name: null }),
  );
  const poolingFile = path.join(dir, '1_Pooling', 'config.json');
  const pooling = JSON.parse(readFileSync(poolingFile, 'utf8')) as Record<string, unknown>;
  if (!includePrompt) writeFileSync(poolingFile, JSON.stringify({ ...pooling, include_prompt: false }));
  return dir;
}

const reference = (arch: string): PromptReference =>
  JSON.parse(readFileSync(path.join(archDir(arch), 'reference.json'), 'utf8')) as PromptReference;

test('e5-style prompts change the embeddings exactly as prepending the prompt text does', async () => {
  const encoder = await SentenceEncoder.load(withPrompts('roberta', true), { quiet: true });
  const ref = reference('roberta');
  assert.deepEqual(encoder.prompts, { query: 'query: ', document: 'passage: ' });
  const prepended = await encoder.encode(
    ref.texts.map((t) => `query: ${t}`),
    { quiet: true },
  );
  const byQuery = await encoder.encodeQuery(ref.texts, { quiet: true });
  const byName = await encoder.encode(ref.texts, { quiet: true, promptName: 'query' });
  const byText = await encoder.encode(ref.texts, { quiet: true, prompt: 'query: ' });
  for (const m of [byQuery, byName, byText]) assert.deepEqual(Array.from(m.data), Array.from(prepended.data));
  const plain = await encoder.encode(ref.texts, { quiet: true });
  assert.ok(maxAbsDiff(plain.data, prepended.data) > 1e-3, 'the prompt changes the embeddings');
  // And the reference agrees with the prepended text (the tokenizer sees "query: " as two tokens).
  assert.ok(maxAbsDiff(matrixRows(prepended), ref.prompt.mean_including_prompt) < 1e-4);
  const docs = await encoder.encodeDocument(ref.texts, { quiet: true });
  const docsPrepended = await encoder.encode(
    ref.texts.map((t) => `passage: ${t}`),
    { quiet: true },
  );
  assert.deepEqual(Array.from(docs.data), Array.from(docsPrepended.data));
  await assert.rejects(encoder.encode(['x'], { promptName: 'nope' }), ArgumentError);
  encoder.dispose();
});

for (const arch of ['roberta', 'distilbert', 'mpnet']) {
  test(`${arch}: include_prompt false leaves the prompt tokens out of mean pooling (reference), and is saved`, async () => {
    const encoder = await SentenceEncoder.load(withPrompts(arch, false), { quiet: true });
    assert.equal(encoder.includePrompt, false);
    const ref = reference(arch);
    const batch = encoder.tokenizer.encodeBatch(ref.texts.map((t) => `query: ${t}`));
    assert.deepEqual(Array.from(batch.inputIds), ref.prompt.input_ids.flat());
    const m = await encoder.encodeQuery(ref.texts, { quiet: true });
    const diff = maxAbsDiff(matrixRows(m), ref.prompt.mean_excluding_prompt);
    assert.ok(diff < 1e-4, `max abs diff ${diff}`);
    assert.ok(maxAbsDiff(matrixRows(m), ref.prompt.mean_including_prompt) > 1e-3);
    const dir = path.join(tmpDir('dr-prompts-saved-'), 'm');
    await encoder.save(dir);
    const saved = JSON.parse(readFileSync(path.join(dir, '1_Pooling', 'config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(saved.include_prompt, false);
    const stConfig = JSON.parse(
      readFileSync(path.join(dir, 'config_sentence_transformers.json'), 'utf8'),
    ) as {
      prompts: Record<string, string>;
    };
    assert.deepEqual(stConfig.prompts, { query: 'query: ', document: 'passage: ' });
    const again = await SentenceEncoder.load(dir, { quiet: true });
    assert.deepEqual(
      Array.from((await again.encodeQuery(ref.texts, { quiet: true })).data),
      Array.from(m.data),
    );
    encoder.dispose();
    again.dispose();
  });
}

for (const arch of ARCH_FIXTURES) {
  test(`${arch}: include_prompt false in every pooling mode matches the reference (cls and lasttoken unaffected)`, async () => {
    const dir = withPrompts(arch, false);
    const ref = reference(arch);
    for (const mode of POOLING_MODES) {
      const encoder = await SentenceEncoder.load(dir, { quiet: true, pooling: mode });
      const m = await encoder.encodeQuery(ref.texts, { quiet: true, batchSize: 3 });
      const diff = maxAbsDiff(matrixRows(m), ref.prompt.excluding_prompt[mode]);
      assert.ok(diff < 1e-4, `${mode}: max abs diff ${diff}`);
      encoder.dispose();
    }
  });
}

test("a bi-encoder's encodeQueries / encodePassages apply the tower's query / document prompts, as training does", async () => {
  const encoder = await SentenceEncoder.load(withPrompts('distilbert', true), { quiet: true });
  const model = BiEncoder.tied(encoder);
  const texts = reference('distilbert').texts;
  const same = (a: { data: Float32Array }, b: { data: Float32Array }) =>
    assert.deepEqual(Array.from(a.data), Array.from(b.data));
  const queries = await model.encodeQueries(texts, { quiet: true });
  same(
    queries,
    await encoder.encode(
      texts.map((t) => `query: ${t}`),
      { quiet: true },
    ),
  );
  same(
    await model.encodePassages(texts, { quiet: true }),
    await encoder.encodeDocument(texts, { quiet: true }),
  );
  assert.ok(maxAbsDiff(matrixRows(queries), matrixRows(await encoder.encode(texts, { quiet: true }))) > 1e-3);
  model.dispose();
});

test('default_prompt_name applies when encode gets no prompt; a bad one is an error naming the file', async () => {
  const dir = withPrompts('distilbert', true);
  const file = path.join(dir, 'config_sentence_transformers.json');
  writeFileSync(file, JSON.stringify({ prompts: { query: 'query: ' }, default_prompt_name: 'query' }));
  const encoder = await SentenceEncoder.load(dir, { quiet: true });
  const texts = ['a short query'];
  assert.deepEqual(
    Array.from((await encoder.encode(texts, { quiet: true })).data),
    Array.from((await encoder.encode(['query: a short query'], { quiet: true, prompt: '' })).data),
  );
  encoder.dispose();
  writeFileSync(file, JSON.stringify({ prompts: { query: 'query: ' }, default_prompt_name: 'passage' }));
  await assert.rejects(
    SentenceEncoder.load(dir, { quiet: true }),
    (e: unknown) => e instanceof InputFormatError && e.message.startsWith(`${file}: "default_prompt_name"`),
  );
});
