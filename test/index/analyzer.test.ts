import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { streamCorpus } from '../../src/data/beir.js';
import { analyzeEnglish, standardTokenize } from '../../src/index/analyzer.js';
import { SCIFACT_DIR } from '../helpers/data.js';

/** ICU's UAX #29 word segmentation, the independent reference for the tokenizer's regular expression. */
const segmenter = new Intl.Segmenter('en', { granularity: 'word' });
function icuTokens(text: string): string[] {
  return [...segmenter.segment(text)].filter((s) => s.isWordLike).map((s) => s.segment);
}

const SAMPLES = [
  "The U.S.A. isn't 3.14, e.g. IL-6 a_b 1,000,000 don’t",
  'TNF-α and IFN-γ (p < 0.05); CD4+ T-cells; H₂O₂ km² 10.5% ±2',
  'shrink\u00ADage \u200Bzero-width, x:y co-operation. e-mail: a.b@c.org http://x.y/z?q=1',
  'Café naïve résumé Σίσυφος Москва 12:30 3.2.1 .5 5. end.',
];

test('standardTokenize agrees with ICU (Intl.Segmenter) word segmentation', () => {
  for (const s of SAMPLES) assert.deepEqual(standardTokenize(s), icuTokens(s), s);
  // Where ICU and Lucene differ we follow Lucene: connectors alone are no token.
  assert.deepEqual(icuTokens('a ___ b'), ['a', '___', 'b']);
  assert.deepEqual(standardTokenize('a ___ b'), ['a', 'b']);
  assert.deepEqual(standardTokenize("The U.S.A. isn't 3.14, e.g. IL-6 a_b"), [
    'The',
    'U.S.A',
    "isn't",
    '3.14',
    'e.g',
    'IL',
    '6',
    'a_b',
  ]);
});

const SCIFACT = path.join(SCIFACT_DIR, 'corpus.jsonl');

test('standardTokenize agrees with ICU on 500 SciFact documents', async () => {
  let n = 0;
  for await (const doc of streamCorpus(SCIFACT)) {
    const text = `${doc.title} ${doc.text}`;
    assert.deepEqual(standardTokenize(text), icuTokens(text), doc.id);
    if (++n === 500) break;
  }
});

test('analyzeEnglish follows Lucene EnglishAnalyzer: possessives, lower case, stop words, Porter stems', () => {
  assert.deepEqual(analyzeEnglish("The cat's running with the dogs’s"), ['cat', 'run', 'dog']);
  // Porter (1980) as Lucene's PorterStemFilter, not Porter2/Snowball: 'generalization' -> 'gener'.
  assert.deepEqual(analyzeEnglish('relational generalization Caresses ponies sky'), [
    'relat',
    'gener',
    'caress',
    'poni',
    'sky',
  ]);
  assert.deepEqual(analyzeEnglish('it is not such a thing, is it?'), ['thing']);
  assert.equal(standardTokenize('x'.repeat(600)).length, 3, 'tokens over 255 chars are cut');
});
