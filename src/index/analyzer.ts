import { stemmer } from 'stemmer';

/**
 * An English analyzer that follows Lucene's `EnglishAnalyzer` (what Anserini/Pyserini index BEIR with), so
 * BM25 numbers line up with the published baselines:
 *
 * 1. StandardTokenizer: Unicode UAX #29 word boundaries ("U.S.A." -> `U.S.A`, "3.14", "can't", "a_b" stay
 *    whole; hyphens split), the rules that matter for alphabetic scripts. Not covered: Lucene's one token
 *    per CJK ideograph / Hiragana character, Hebrew-letter and Katakana rules, and emoji sequences;
 *    irrelevant for English collections. Tokens longer than 255 chars are cut as Lucene does.
 * 2. EnglishPossessiveFilter: a trailing `'s` (also `’s`, `＇s`) is removed.
 * 3. LowerCaseFilter.
 * 4. StopFilter with Lucene's 33 English stop words ({@link LUCENE_ENGLISH_STOP_WORDS}).
 * 5. PorterStemFilter: the original Porter (1980) algorithm, from the `stemmer` package (wooorm), which
 *    like Lucene's port includes Porter's own departures (`bli` -> `ble`, `logi` -> `log`).
 */

/** Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET`. */
export const LUCENE_ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'but',
  'by',
  'for',
  'if',
  'in',
  'into',
  'is',
  'it',
  'no',
  'not',
  'of',
  'on',
  'or',
  'such',
  'that',
  'the',
  'their',
  'then',
  'there',
  'these',
  'they',
  'this',
  'to',
  'was',
  'will',
  'with',
]);

const MAX_TOKEN_LENGTH = 255;

/*
 * UAX #29 word tokens as one regular expression rather than `Intl.Segmenter`: the segmenter implements
 * the same rules (and the tests check that both agree) but was ~100x slower, 20 s against 0.2 s on the
 * SciFact corpus. A token starts with a letter, decimal digit or connector (`_`) and runs on through
 * letters, digits, connectors, combining marks (WB4: Extend) and format characters (soft hyphen); it
 * continues across a MidLetter/MidNumLet character between two letters ("can't", "U.S.A") and across a
 * MidNum/MidNumLet between two digits ("3.14", "1,000") (WB6/7, WB11/12).
 */
const TOKEN =
  /[\p{L}\p{Nd}\p{Pc}][\p{L}\p{M}\p{Nd}\p{Pc}\p{Cf}]*(?:(?:(?<=\p{L}\p{M}*)[:\u00B7'\u2019.\u2027\uFE13\uFE55\uFF0E\uFF07\uFF1A](?=\p{L})|(?<=\p{Nd}\p{M}*)[,;.'\u2019\u066C\uFE50\uFE54\uFF0C\uFF0E\uFF07\uFF1B](?=\p{Nd}))[\p{L}\p{M}\p{Nd}\p{Pc}\p{Cf}]+)*/gu;
const WORDLIKE = /[\p{L}\p{Nd}]/u;

/**
 * Word tokens of `text` by UAX #29 (Lucene's StandardTokenizer), before any filter.
 *
 * @example
 * ```ts
 * import { standardTokenize } from 'dense-retrieval';
 * standardTokenize("The U.S.A. isn't 3.14"); // ['The', 'U.S.A', "isn't", '3.14']
 * ```
 */
export function standardTokenize(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const t = m[0];
    // A run of connectors alone ("___") is not a word.
    if (!WORDLIKE.test(t)) continue;
    if (t.length <= MAX_TOKEN_LENGTH) out.push(t);
    else for (let i = 0; i < t.length; i += MAX_TOKEN_LENGTH) out.push(t.slice(i, i + MAX_TOKEN_LENGTH));
  }
  return out;
}

const POSSESSIVE = /['\u2019\uFF07][sS]$/;

// The regex-based stemmer dominates analysis time; a vocabulary is small, so stems are memoised.
const STEM_CACHE_LIMIT = 1_000_000;
const stemCache = new Map<string, string>();

function stem(term: string): string {
  let s = stemCache.get(term);
  if (s === undefined) {
    s = stemmer(term);
    if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear();
    stemCache.set(term, s);
  }
  return s;
}

/**
 * Analyze `text` into index terms like Lucene's `EnglishAnalyzer`.
 *
 * @example
 * ```ts
 * import { analyzeEnglish } from 'dense-retrieval';
 * analyzeEnglish("The cat's running with the dogs"); // ['cat', 'run', 'dog']
 * ```
 */
export function analyzeEnglish(text: string): string[] {
  const out: string[] = [];
  for (const raw of standardTokenize(text)) {
    const t = raw.replace(POSSESSIVE, '').toLowerCase();
    if (t === '' || LUCENE_ENGLISH_STOP_WORDS.has(t)) continue;
    out.push(stem(t));
  }
  return out;
}
