/**
 * Where the JavaScript BertNormalizer of `@huggingface/tokenizers` differs from Hugging Face's Rust one
 * (the `tokenizers` crate that sentence-transformers runs), and the pre-pass that makes the two agree.
 *
 * The Rust normalizer works on `char`s (code points), one at a time; the JS one on a JS string. Audited
 * step by step against the Rust pipeline (every code point alone and inside a word, through HF's own
 * Node bindings of the crate; see
 * test/fixtures/tokenizer-parity/README.md and scripts/audit-tokenizer-rust.mts):
 * - clean_text: JS iterates code points, like Rust. Rust's `is_control` is `unicode_categories`'
 *   `is_other()`, which is Cc, Cf, Co, Cs — *not* Cn: an unassigned code point is kept (it becomes
 *   `[UNK]`), as the JS library does. Whitespace: JS `\s` and Rust `is_whitespace` differ only on
 *   U+FEFF and U+0085, both removed as controls first. Agrees.
 * - handle_chinese_chars: JS tests UTF-16 units, so CJK ideographs outside the BMP (extensions B-F,
 *   compatibility supplement) are never split off as words. Fixed here, with Rust's ranges (which start
 *   extension E-F at U+2B920, not the original BERT's U+2B820).
 * - lowercase: Rust maps each `char` with `char::to_lowercase`, which has no context; JS
 *   `String.prototype.toLowerCase` applies the Final_Sigma rule, so 'ΟΔΟΣ' ends in 'ς' instead of 'σ'
 *   (different ids). Final_Sigma is the only context-sensitive mapping `toLowerCase` applies (the
 *   Lithuanian/Turkish ones are locale-only), so mapping every 'Σ' to 'σ' first is exact. 'İ' lowercases to
 *   'i' + U+0307 in both, and U+0307 is then stripped as an accent in both.
 * - strip_accents: NFD, then drop Mn, in both; Rust strips before lowercasing and JS after, which gives the
 *   same result for every code point (checked exhaustively).
 * - Unicode versions: Rust's category tables (`unicode_categories`) are Unicode 8-era, Node's are current.
 *   Characters that later Unicode versions made punctuation, nonspacing marks or format controls (about
 *   650 code points, none in common text; e.g. U+0897, U+2E55) are split/stripped/dropped here but kept by
 *   Rust. Left as is: documented in test/fixtures/tokenizer-parity/README.md.
 */

/** What {@link fixBertText} must do for a tokenizer's BertNormalizer. */
export interface BertFixes {
  spaceAstralCjk: boolean;
  lowercasePerCodePoint: boolean;
}

/**
 * The fixes a tokenizer.json `normalizer` needs, or undefined when it needs none: a BertNormalizer, a
 * `Lowercase` normalizer (JS `toLowerCase` there too, where Rust maps per `char`), or a `Sequence`
 * holding either.
 */
export function bertFixesFor(normalizer: unknown): BertFixes | undefined {
  const fixes: BertFixes = { spaceAstralCjk: false, lowercasePerCodePoint: false };
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== 'object') return;
    const n = node as Record<string, unknown>;
    if (n.type === 'BertNormalizer') {
      if (n.handle_chinese_chars !== false) fixes.spaceAstralCjk = true;
      // The JS library lowercases exactly when `lowercase` is truthy; the fix is needed exactly then.
      if (n.lowercase) fixes.lowercasePerCodePoint = true;
    } else if (n.type === 'Lowercase') {
      fixes.lowercasePerCodePoint = true;
    } else if (n.type === 'Sequence' && Array.isArray(n.normalizers)) {
      n.normalizers.forEach(visit);
    }
  };
  visit(normalizer);
  return fixes.spaceAstralCjk || fixes.lowercasePerCodePoint ? fixes : undefined;
}

/** Rust's astral CJK ranges (`is_chinese_char` in tokenizers/src/normalizers/bert.rs). */
const ASTRAL_CJK =
  /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B920}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;
const CAPITAL_SIGMA = /\u03A3/g;
/**
 * A cheap guard so ordinary text skips both replacements. It must be tested on code points: a class of
 * lone surrogates under the `u` flag never matches a surrogate pair, which is how the astral fix once
 * never ran.
 */
const NEEDS_FIX = /[\u{20000}-\u{2FA1F}\u03A3]/u;

/**
 * Rewrite `text` so that the JS BertNormalizer gives what the Rust one gives (see the file comment).
 *
 * @example
 * ```ts
 * fixBertText('\u{20000}\u{2A6A5}', { spaceAstralCjk: true, lowercasePerCodePoint: true }); // ' 𠀀  𪚥 '
 * ```
 */
export function fixBertText(text: string, fixes: BertFixes): string {
  if (!NEEDS_FIX.test(text)) return text;
  let out = text;
  if (fixes.spaceAstralCjk) out = out.replace(ASTRAL_CJK, ' $& ');
  if (fixes.lowercasePerCodePoint) out = out.replace(CAPITAL_SIGMA, '\u03C3');
  return out;
}
