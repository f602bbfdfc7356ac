/**
 * Audit: every code point, alone and inside a word ("xa<c>b"), through Hugging Face's Rust tokenizer (its
 * official Node bindings, npm `tokenizers`) and through this library's TextTokenizer, for the bundled
 * bert-base-uncased; prints the code points where they differ, grouped by Unicode general category.
 *
 * Not a test (the bindings are a native package the library does not depend on). Run by hand:
 *
 *     npm install --no-save tokenizers
 *     node --import tsx scripts/audit-tokenizer-rust.mts [--texts FILE.json]
 *
 * With --texts, encodes the JSON array of strings in FILE instead and prints both id lists per text
 * (used to check the parity fixture's Python reference against Rust).
 */
import { readFileSync } from 'node:fs';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../src/tokenize/tokenizer.js';

interface RustEncoding {
  getIds(): number[];
}
interface RustTokenizer {
  encodeBatch(texts: string[]): Promise<RustEncoding[]>;
}

const { Tokenizer } = (await import('tokenizers' as string)) as {
  Tokenizer: { fromFile(file: string): RustTokenizer };
};
const rust = Tokenizer.fromFile(`${BUNDLED_TOKENIZERS.bertBaseUncased}/tokenizer.json`);
const ours = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);

async function compare(texts: string[], onDiff: (i: number, a: number[], b: number[]) => void) {
  const batch = 4096;
  for (let start = 0; start < texts.length; start += batch) {
    const chunk = texts.slice(start, start + batch);
    const encoded = await rust.encodeBatch(chunk);
    chunk.forEach((text, j) => {
      const a = [101, ...ours.encodeIds(text), 102];
      const b = encoded[j].getIds();
      if (a.join() !== b.join()) onDiff(start + j, a, b);
    });
  }
}

const textsFlag = process.argv.indexOf('--texts');
if (textsFlag >= 0) {
  const texts = JSON.parse(readFileSync(process.argv[textsFlag + 1], 'utf8')) as string[];
  let n = 0;
  await compare(texts, (i, a, b) => {
    n++;
    console.log(JSON.stringify(texts[i]), `ours ${a} rust ${b}`);
  });
  console.log(`${n} of ${texts.length} texts differ`);
} else {
  const CATEGORIES =
    'Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co Cn';
  const classes = CATEGORIES.split(' ').map((c) => [c, new RegExp(`^\\p{${c}}$`, 'u')] as const);
  const texts: string[] = [];
  const points: number[] = [];
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    const c = String.fromCodePoint(cp);
    texts.push(c, `xa${c}b`);
    points.push(cp, cp);
  }
  const byCategory = new Map<string, Set<number>>();
  await compare(texts, (i) => {
    const c = String.fromCodePoint(points[i]);
    const category = classes.find(([, re]) => re.test(c))?.[0] ?? '?';
    if (!byCategory.has(category)) byCategory.set(category, new Set());
    byCategory.get(category)!.add(points[i]);
  });
  let total = 0;
  for (const [category, set] of byCategory) {
    total += set.size;
    const sample = [...set].slice(0, 8).map((cp) => `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`);
    console.log(`${category} (current Unicode): ${set.size} code points, e.g. ${sample.join(' ')}`);
  }
  console.log(`${total} code points differ (of ${points.length / 2})`);
}
