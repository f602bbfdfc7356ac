import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../../src/tokenize/tokenizer.js';
import { REPO_ROOT } from '../helpers/cli.js';

/** Reference ids from scripts/make_tokenizer_fixtures.py, an independent Python BERT tokenizer. */
const rows = readFileSync(
  path.join(REPO_ROOT, 'test/fixtures/tokenizer-parity/bert-base-uncased.jsonl'),
  'utf8',
)
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line) as { text: string; ids: number[] });

test('bert-base-uncased matches the reference ids on corpus text and edge cases', async () => {
  assert.ok(rows.length > 200);
  const tok = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);
  const batch = tok.encodeBatch(
    rows.map((r) => r.text),
    { maxLength: 100_000 },
  );
  assert.equal(batch.seqLen, Math.max(...rows.map((r) => r.ids.length)));
  const mismatches: string[] = [];
  rows.forEach((r, i) => {
    const n = r.ids.length;
    const got = Array.from(batch.inputIds.subarray(i * batch.seqLen, i * batch.seqLen + n));
    const mask = batch.attentionMask.subarray(i * batch.seqLen, (i + 1) * batch.seqLen);
    const realTokens = mask.reduce((a, b) => a + b, 0);
    if (JSON.stringify(got) !== JSON.stringify(r.ids) || realTokens !== n) {
      mismatches.push(JSON.stringify(r.text).slice(0, 80));
    }
  });
  assert.deepEqual(mismatches, []);
});

test('truncation matches the reference ids cut to maxLength with [SEP] last', async () => {
  const tok = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);
  const maxLength = 32;
  const batch = tok.encodeBatch(
    rows.map((r) => r.text),
    { maxLength },
  );
  assert.equal(batch.seqLen, maxLength);
  rows.forEach((r, i) => {
    const expected = r.ids.length <= maxLength ? r.ids : [...r.ids.slice(0, maxLength - 1), 102];
    const got = Array.from(batch.inputIds.subarray(i * maxLength, i * maxLength + expected.length));
    assert.deepEqual(got, expected, r.text.slice(0, 60));
    assert.equal(tok.tokenLength(r.text, { maxLength }), expected.length);
  });
});
