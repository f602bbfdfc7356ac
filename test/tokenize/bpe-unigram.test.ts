import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { TextTokenizer } from '../../src/tokenize/tokenizer.js';
import { tmpDir } from '../helpers/tmp.js';

/**
 * The tokenizer kinds of RoBERTa / ModernBERT (byte-level BPE) and XLM-RoBERTa (Unigram with Metaspace), as
 * tiny tokenizer.json files built here; expected ids are worked out by hand from the merges / scores.
 */

const SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'];
const added = SPECIALS.map((content, id) => ({
  id,
  content,
  special: true,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
}));

function byteLevelBpe(): object {
  const tokens = [
    ...SPECIALS,
    ...'helowrdĠ'.split(''),
    'he',
    'll',
    'hell',
    'hello',
    'Ġw',
    'or',
    'Ġwor',
    'ld',
    'Ġworld',
  ];
  const vocab = Object.fromEntries(tokens.map((t, i) => [t, i]));
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'RobertaProcessing',
      sep: ['</s>', 2],
      cls: ['<s>', 0],
      trim_offsets: true,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: ['h e', 'l l', 'he ll', 'hell o', 'Ġ w', 'o r', 'Ġw or', 'l d', 'Ġwor ld'],
    },
  };
}

function unigram(): object {
  const pieces: [string, number][] = [
    ['<s>', 0],
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
    ['▁hello', -2],
    ['▁world', -2.5],
    ['▁', -3],
    ['s', -3.5],
    ['h', -5],
    ['e', -5],
    ['l', -5],
    ['o', -5],
    ['w', -5],
    ['r', -5],
    ['d', -5],
  ];
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: '<s>', type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 0 } },
        { SpecialToken: { id: '</s>', type_id: 0 } },
      ],
      special_tokens: {
        '<s>': { id: '<s>', ids: [0], tokens: ['<s>'] },
        '</s>': { id: '</s>', ids: [2], tokens: ['</s>'] },
      },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 3, vocab: pieces, byte_fallback: false },
  };
}

/** A model directory with `tokenizer.json` and the given config files. */
function dir(tokenizer: object, files: Record<string, object>): string {
  const d = tmpDir('dr-tok-');
  writeFileSync(path.join(d, 'tokenizer.json'), JSON.stringify(tokenizer));
  for (const [name, body] of Object.entries(files)) writeFileSync(path.join(d, name), JSON.stringify(body));
  return d;
}

const ROBERTA_CONFIG = {
  tokenizer_class: 'RobertaTokenizer',
  model_max_length: 6,
  bos_token: '<s>',
  eos_token: '</s>',
  pad_token: '<pad>',
};

for (const [kind, make] of [
  ['byte-level BPE (RoBERTa, ModernBERT)', byteLevelBpe],
  ['Unigram with Metaspace (XLM-RoBERTa)', unigram],
] as const) {
  test(`${kind}: specials, padding id and model_max_length from the directory; truncation keeps </s>`, async () => {
    const tok = await TextTokenizer.fromDirectory(dir(make(), { 'tokenizer_config.json': ROBERTA_CONFIG }));
    const hello = make === byteLevelBpe ? 15 : 4;
    const world = make === byteLevelBpe ? 20 : 5;
    assert.deepEqual(tok.encodeIds('hello world'), [hello, world]);
    assert.equal(tok.padTokenId, 1);
    assert.equal(tok.modelMaxLength, 6);
    assert.equal(tok.numSpecialTokens, 2);
    const batch = tok.encodeBatch(['hello world', 'hello'], {});
    assert.equal(batch.seqLen, 4);
    assert.deepEqual(Array.from(batch.inputIds), [0, hello, world, 2, 0, hello, 2, 1]);
    assert.deepEqual(Array.from(batch.attentionMask), [1, 1, 1, 1, 1, 1, 1, 0]);
    // Truncated to 3 ids: the closing special token stays, as Python's tokenizers do.
    const short = tok.encodeBatch(['hello world'], { maxLength: 3 });
    assert.deepEqual(Array.from(short.inputIds), [0, hello, 2]);
    // model_max_length (6) is the default cap: five words become <s> + 4 + </s>.
    assert.equal(tok.tokenLength('hello world hello world hello'), 6);
    // Pairs as RoBERTa builds them: <s> A </s></s> B </s>.
    const pair = tok.encodePair(['hello'], [' world'], { maxLength: 16 });
    assert.deepEqual(Array.from(pair.inputIds), [0, hello, 2, 2, world, 2]);
  });
}

test('the pad token may come from special_tokens_map.json when tokenizer_config.json has none', async () => {
  const d = dir(byteLevelBpe(), {
    'tokenizer_config.json': { model_max_length: 512 },
    'special_tokens_map.json': { pad_token: { content: '</s>', lstrip: false, rstrip: false } },
  });
  const tok = await TextTokenizer.fromDirectory(d);
  assert.equal(tok.padTokenId, 2, 'the map names </s> (id 2) as the pad token, not the <pad> fallback');
});

test('Unigram: an unknown piece falls back to single characters by score', async () => {
  const tok = await TextTokenizer.fromDirectory(dir(unigram(), { 'tokenizer_config.json': ROBERTA_CONFIG }));
  // "worlds" -> ▁world + s (the best-scoring segmentation); "held" -> ▁ h e l d.
  assert.deepEqual(tok.encodeIds('worlds'), [5, 7]);
  assert.deepEqual(tok.encodeIds('held'), [6, 8, 9, 10, 14]);
});
