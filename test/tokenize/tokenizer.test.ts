import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../../src/tokenize/tokenizer.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const BERT = BUNDLED_TOKENIZERS.bertBaseUncased;
const MINILM = path.join(REPO_ROOT, 'test/fixtures/tokenizers/all-MiniLM-L6-v2');

/** Row `r` of a flat [batch, seqLen] array. */
function row(values: Int32Array, seqLen: number, r: number): number[] {
  return Array.from(values.subarray(r * seqLen, (r + 1) * seqLen));
}

test('bundled bert-base-uncased gives the ids of the Python tokenizer', async () => {
  const tok = await TextTokenizer.fromDirectory(BERT);
  const batch = tok.encodeBatch(['Hello, world!']);
  assert.deepEqual(Array.from(batch.inputIds), [101, 7592, 1010, 2088, 999, 102]);
  assert.deepEqual(Array.from(batch.attentionMask), [1, 1, 1, 1, 1, 1]);
  const second = tok.encodeBatch(['Hello world! Unaffable embeddings.']);
  assert.deepEqual(
    Array.from(second.inputIds),
    [101, 7592, 2088, 999, 14477, 20961, 3468, 7861, 8270, 4667, 2015, 1012, 102],
  );
  assert.equal(tok.vocabSize, 30522);
  assert.equal(tok.padTokenId, 0);
  assert.equal(tok.modelMaxLength, 512);
  assert.equal(tok.numSpecialTokens, 2);
  assert.deepEqual(tok.encodeIds('Hello, world!'), [7592, 1010, 2088, 999]);
});

test('a batch pads to its longest text with the pad id, mask 0 and token types 0', async () => {
  const tok = await TextTokenizer.fromDirectory(BERT);
  const b = tok.encodeBatch(['Hello, world!', 'Hello world! Unaffable embeddings.', '']);
  assert.equal(b.batchSize, 3);
  assert.equal(b.seqLen, 13);
  assert.equal(b.inputIds.length, 39);
  assert.deepEqual(row(b.inputIds, 13, 0), [101, 7592, 1010, 2088, 999, 102, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(b.attentionMask, 13, 0), [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(row(b.attentionMask, 13, 1), new Array(13).fill(1));
  assert.deepEqual(row(b.inputIds, 13, 2), [101, 102, ...new Array(11).fill(0)]);
  assert.deepEqual(row(b.attentionMask, 13, 2), [1, 1, ...new Array(11).fill(0)]);
  assert.ok(b.tokenTypeIds.every((t) => t === 0));
});

test('truncation to maxLength counts the special tokens and keeps [SEP] last', async () => {
  const tok = await TextTokenizer.fromDirectory(BERT);
  const b = tok.encodeBatch(['Hello world! Unaffable embeddings.', 'Hello, world!'], { maxLength: 6 });
  assert.equal(b.seqLen, 6);
  assert.deepEqual(row(b.inputIds, 6, 0), [101, 7592, 2088, 999, 14477, 102]);
  assert.deepEqual(row(b.inputIds, 6, 1), [101, 7592, 1010, 2088, 999, 102]);
  assert.equal(tok.tokenLength('Hello world! Unaffable embeddings.'), 13);
  assert.equal(tok.tokenLength('Hello world! Unaffable embeddings.', { maxLength: 6 }), 6);
  assert.equal(tok.tokenLength('Hello, world!', { maxLength: 100 }), 6);
  assert.equal(tok.tokenLength(''), 2);
  // The default is model_max_length (512): a 600-word text stops at 512 with [SEP] last.
  const long = tok.encodeBatch([Array.from({ length: 600 }, () => 'word').join(' ')]);
  assert.equal(long.seqLen, 512);
  assert.equal(long.inputIds[511], 102);
});

test('a tokenizer without model_max_length defaults to 512', () => {
  const json = JSON.parse(readFileSync(path.join(BERT, 'tokenizer.json'), 'utf8')) as object;
  const tok = TextTokenizer.fromJSON(json, { model_max_length: 1e30 });
  assert.equal(tok.modelMaxLength, undefined);
  const text = Array.from({ length: 700 }, () => 'word').join(' ');
  assert.equal(tok.tokenLength(text), 512);
  assert.deepEqual(
    Array.from(tok.encodeBatch(['Hello, world!']).inputIds),
    [101, 7592, 1010, 2088, 999, 102],
  );
});

test('a directory with tokenizer.json only loads, with no length limit of its own', async () => {
  const dir = tmpDir();
  await fs.copyFile(path.join(BERT, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const tok = await TextTokenizer.fromDirectory(dir);
  assert.equal(tok.modelMaxLength, undefined);
  assert.equal(tok.tokenLength(Array.from({ length: 700 }, () => 'word').join(' ')), 512);
  assert.deepEqual(
    Array.from(tok.encodeBatch(['Hello, world!']).inputIds),
    [101, 7592, 1010, 2088, 999, 102],
  );
});

test('the MiniLM tokenizer.json ignores its built-in Fixed:128 padding and 128 truncation', async () => {
  const raw = JSON.parse(readFileSync(path.join(MINILM, 'tokenizer.json'), 'utf8')) as {
    padding: { strategy: { Fixed: number } };
    truncation: { max_length: number };
  };
  assert.equal(raw.padding.strategy.Fixed, 128); // the file really has padding built in
  assert.equal(raw.truncation.max_length, 128);
  const tok = await TextTokenizer.fromDirectory(MINILM);
  const short = tok.encodeBatch(['Hello, world!', 'Hello world! Unaffable embeddings.']);
  assert.equal(short.seqLen, 13);
  assert.deepEqual(row(short.inputIds, 13, 0), [101, 7592, 1010, 2088, 999, 102, 0, 0, 0, 0, 0, 0, 0]);
  const text = Array.from({ length: 300 }, () => 'word').join(' ');
  const long = tok.encodeBatch([text], { maxLength: 256 });
  assert.equal(long.seqLen, 256);
  assert.equal(long.inputIds[255], 102);
  assert.equal(tok.tokenLength(text, { maxLength: 200 }), 200);
});

test('pairs get token types 0/1 and longest-first truncation', async () => {
  const tok = await TextTokenizer.fromDirectory(BERT);
  const b = tok.encodePair(['Hello, world!'], ['Hello world! Unaffable embeddings.']);
  assert.deepEqual(
    Array.from(b.inputIds),
    [101, 7592, 1010, 2088, 999, 102, 7592, 2088, 999, 14477, 20961, 3468, 7861, 8270, 4667, 2015, 1012, 102],
  );
  assert.deepEqual(Array.from(b.tokenTypeIds), [...new Array(6).fill(0), ...new Array(12).fill(1)]);
  // 4 + 11 content ids into 10 - 3 = 7: the shorter keeps 3, the longer 4 (Rust LongestFirst).
  const t = tok.encodePair(['Hello, world!'], ['Hello world! Unaffable embeddings.'], { maxLength: 10 });
  assert.deepEqual(Array.from(t.inputIds), [101, 7592, 1010, 2088, 102, 7592, 2088, 999, 14477, 102]);
  // Only the longer side is cut when the shorter fits in half.
  const u = tok.encodePair(['Hello'], ['Hello world! Unaffable embeddings.'], { maxLength: 8 });
  assert.deepEqual(Array.from(u.inputIds), [101, 7592, 102, 7592, 2088, 999, 14477, 102]);
  assert.throws(() => tok.encodePair(['a', 'b'], ['c']), /second: has 1 texts but first has 2/);
});

test('save() then fromDirectory() round-trips to identical ids and HF-loadable files', async () => {
  const dir = tmpDir();
  const texts = [
    'Hello, world!',
    'Café déjà vu — naïve 東京 résumé',
    'x'.repeat(150),
    'Unaffable embeddings.',
  ];
  for (const source of [BERT, MINILM]) {
    const tok = await TextTokenizer.fromDirectory(source);
    const out = path.join(dir, path.basename(source), 'nested');
    await tok.save(out);
    const again = await TextTokenizer.fromDirectory(out);
    const a = tok.encodeBatch(texts, { maxLength: 64 });
    const b = again.encodeBatch(texts, { maxLength: 64 });
    assert.deepEqual(b, a);
    assert.equal(again.modelMaxLength, tok.modelMaxLength);
    // tokenizer.json is written byte for byte; vocab.txt is rebuilt from it and equals the original.
    assert.deepEqual(
      await fs.readFile(path.join(out, 'tokenizer.json')),
      await fs.readFile(path.join(source, 'tokenizer.json')),
    );
    assert.deepEqual(
      await fs.readFile(path.join(out, 'vocab.txt')),
      await fs.readFile(path.join(source, 'vocab.txt')),
    );
    const config = JSON.parse(await fs.readFile(path.join(out, 'tokenizer_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(config.tokenizer_class, 'BertTokenizer');
    assert.equal(config.do_lower_case, true);
    assert.equal(config.model_max_length, 512);
    const specials = JSON.parse(
      await fs.readFile(path.join(out, 'special_tokens_map.json'), 'utf8'),
    ) as unknown;
    assert.deepEqual(specials, {
      unk_token: '[UNK]',
      sep_token: '[SEP]',
      pad_token: '[PAD]',
      cls_token: '[CLS]',
      mask_token: '[MASK]',
    });
    const leftovers = (await fs.readdir(out)).filter((f) => f.includes('.tmp-'));
    assert.deepEqual(leftovers, []);
  }
});

test('fromJSON keeps the ids of fromDirectory', async () => {
  const json = JSON.parse(readFileSync(path.join(BERT, 'tokenizer.json'), 'utf8')) as object;
  const tok = TextTokenizer.fromJSON(json, { model_max_length: 512 });
  const fromDir = await TextTokenizer.fromDirectory(BERT);
  assert.deepEqual(
    tok.encodeBatch(['Hello, world!', 'résumé']),
    fromDir.encodeBatch(['Hello, world!', 'résumé']),
  );
  // Saving a fromJSON tokenizer writes an equivalent tokenizer.json.
  const dir = tmpDir();
  await tok.save(dir);
  const again = await TextTokenizer.fromDirectory(dir);
  assert.deepEqual(again.encodeBatch(['Hello, world!']), tok.encodeBatch(['Hello, world!']));
});

test('batchFromIds gives the batch of encodeBatch from ids computed once', async () => {
  const tok = await TextTokenizer.fromDirectory(BERT);
  const texts = ['Hello world! Unaffable embeddings.', 'Hello, world!', 'embeddings embeddings embeddings'];
  const ids = texts.map((t) => tok.encodeIds(t));
  assert.deepEqual(tok.batchFromIds(ids, { maxLength: 8 }), tok.encodeBatch(texts, { maxLength: 8 }));
  assert.deepEqual(tok.batchFromIds(ids), tok.encodeBatch(texts));
  // Repeated words come from the word cache and must split as the first time.
  assert.deepEqual(ids[2], [7861, 8270, 4667, 2015, 7861, 8270, 4667, 2015, 7861, 8270, 4667, 2015]);
  assert.throws(
    () => tok.batchFromIds([[1, 2], 'ab' as unknown as number[]]),
    new ArgumentError('idRows', 'element 1 is not an array of ids'),
  );
});

test('an empty batch is an empty [0, 0] batch', async () => {
  const tok = await TextTokenizer.fromDirectory(BERT);
  const b = tok.encodeBatch([]);
  assert.equal(b.batchSize, 0);
  assert.equal(b.seqLen, 0);
  assert.equal(b.inputIds.length, 0);
});

test('bad input gives typed errors naming the file or argument', async () => {
  const dir = tmpDir();
  const missing = path.join(dir, 'nothing-here');
  await assert.rejects(TextTokenizer.fromDirectory(missing), (error: Error) => {
    assert.ok(error instanceof InputFormatError);
    assert.equal(
      error.message,
      `${path.join(missing, 'tokenizer.json')}: file not found; a tokenizer directory needs a Hugging Face tokenizer.json`,
    );
    return true;
  });
  const broken = path.join(dir, 'broken');
  await fs.mkdir(broken);
  await fs.writeFile(path.join(broken, 'tokenizer.json'), '{"model": ');
  await assert.rejects(TextTokenizer.fromDirectory(broken), (error: Error) => {
    assert.ok(error instanceof InputFormatError);
    assert.match(error.message, new RegExp(`^${path.join(broken, 'tokenizer.json')}: invalid JSON`));
    return true;
  });
  await fs.writeFile(path.join(broken, 'tokenizer.json'), '{"version": "1.0"}');
  await assert.rejects(
    TextTokenizer.fromDirectory(broken),
    new InputFormatError(
      'not a Hugging Face tokenizer.json (no "model" object)',
      path.join(broken, 'tokenizer.json'),
    ),
  );
  await fs.writeFile(
    path.join(broken, 'tokenizer.json'),
    await fs.readFile(path.join(BERT, 'tokenizer.json')),
  );
  await fs.writeFile(path.join(broken, 'tokenizer_config.json'), '[1, 2]');
  await assert.rejects(
    TextTokenizer.fromDirectory(broken),
    new InputFormatError('expected a JSON object', path.join(broken, 'tokenizer_config.json')),
  );

  assert.throws(
    () => TextTokenizer.fromJSON({ version: '1.0' }),
    new ArgumentError('tokenizerJson', 'expected the parsed tokenizer.json object (with a "model" key)'),
  );
  assert.throws(
    () => TextTokenizer.fromJSON({ model: { type: 'NoSuchModel', vocab: 3 } }),
    (error: Error) =>
      error instanceof ArgumentError && /^tokenizerJson: not a usable tokenizer.json: /.test(error.message),
  );

  const tok = await TextTokenizer.fromDirectory(BERT);
  assert.throws(
    () => tok.encodeBatch(['a'], { maxLength: 2 }),
    new ArgumentError(
      'maxLength',
      'must be an integer >= 3 (room for the 2 special tokens and one token), got 2',
    ),
  );
  assert.throws(
    () => tok.encodeBatch(['a'], { maxLength: 7.5 }),
    /^ArgumentError: maxLength: must be an integer >= 3/,
  );
  assert.throws(
    () => tok.encodePair(['a'], ['b'], { maxLength: 3 }),
    new ArgumentError(
      'maxLength',
      'must be an integer >= 4 (room for the 3 special tokens and one token), got 3',
    ),
  );
  assert.throws(
    () => tok.encodeBatch(['a', 7 as unknown as string]),
    new ArgumentError('texts', 'element 1 is number, expected a string'),
  );
  assert.throws(
    () => tok.encodeBatch('abc' as unknown as string[]),
    new ArgumentError('texts', 'expected an array of strings'),
  );
  assert.throws(
    () => tok.tokenLength(null as unknown as string),
    new ArgumentError('text', 'expected a string, got object'),
  );
});

test('issue 12: the astral-CJK fix runs on code points, and a final capital sigma lowercases as in Rust', async () => {
  const tok = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);
  // Rust: each CJK ideograph is its own word, [UNK] [UNK]; the JS library alone gave one [UNK].
  assert.deepEqual(tok.encodeIds('\u{20000}\u{2A6A5}'), [100, 100]);
  // Rust lowercases per code point: 'ΟΔΟΣ' ends in σ, as 'ΟΔΟΣΑ' has it inside; JS toLowerCase gives ς.
  const inner = tok.encodeIds('οδοσ');
  assert.deepEqual(tok.encodeIds('ΟΔΟΣ'), inner);
  assert.notDeepEqual(tok.encodeIds('οδος'), inner, 'σ and ς are different tokens, so the test can fail');
});

test('issue 12: a Lowercase normalizer (in a Sequence) lowercases a final sigma per code point too', async () => {
  const json = JSON.parse(
    readFileSync(path.join(BUNDLED_TOKENIZERS.bertBaseUncased, 'tokenizer.json'), 'utf8'),
  ) as Record<string, unknown>;
  json.normalizer = {
    type: 'Sequence',
    normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }, { type: 'StripAccents' }],
  };
  const tok = TextTokenizer.fromJSON(json);
  assert.deepEqual(tok.encodeIds('ΟΔΟΣ ΟΔΟΣ.'), tok.encodeIds('οδοσ οδοσ.'));
  assert.notDeepEqual(tok.encodeIds('οδος'), tok.encodeIds('οδοσ'));
});
