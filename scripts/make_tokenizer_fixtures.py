#!/usr/bin/env python3
"""Reference token ids for the bert-base-uncased tokenizer parity test (test/tokenize/parity.test.ts).

An independent pure-Python implementation of BERT's uncased tokenizer as Hugging Face's Rust `tokenizers`
crate runs it (BertNormalizer + BertPreTokenizer + WordPiece; what sentence-transformers uses), written
here from the algorithm and reading only vocab.txt. It shares no code with @huggingface/tokenizers, which
the library wraps, so agreement on real corpus text and on edge cases is evidence that both are right.

Where the Rust pipeline differs from the original BERT / transformers' slow tokenizer, this follows Rust,
character by character (a Rust `char` is a code point):
- controls are categories Cc, Cf, Co, Cs (Rust's `is_other()`); unassigned code points (Cn) are kept;
- the CJK ranges are Rust's (extension E-F from U+2B920, not U+2B820);
- accents are stripped (NFD, drop Mn) before lower-casing, and lower-casing maps each code point on its
  own (`char::to_lowercase`): no Final_Sigma rule, so a word-final 'Σ' becomes 'σ', not 'ς'.
Python's unicodedata tables are newer than the Rust crate's (Unicode 8 era): the edge cases avoid the few
hundred code points whose category changed since.

Run by hand from the repository root (needs only the Python standard library):

    python3 scripts/make_tokenizer_fixtures.py [DATA_DIR]

DATA_DIR defaults to ../shared/data (BEIR-layout scifact and cranfield). It writes
test/fixtures/tokenizer-parity/bert-base-uncased.jsonl, one {"text", "ids"} object per line, where the ids
are the full encoding with [CLS] and [SEP] and without truncation.
"""

import json
import os
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = os.path.join(ROOT, "assets", "tokenizers", "bert-base-uncased", "vocab.txt")
OUT = os.path.join(ROOT, "test", "fixtures", "tokenizer-parity", "bert-base-uncased.jsonl")
MAX_CHARS_PER_WORD = 100

CJK_RANGES = [
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B920, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
]


def is_whitespace(ch):
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in "\t\n\r":
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def is_punctuation(ch):
    cp = ord(ch)
    # All non-letter, non-digit ASCII counts as punctuation (e.g. $, ^, `), as in BERT.
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(ch):
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def basic_tokenize(text):
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        cleaned.append(" " if is_whitespace(ch) else ch)
    spaced = []
    for ch in cleaned:
        spaced.append(f" {ch} " if is_cjk(ch) else ch)
    words = []
    for token in "".join(spaced).split():
        token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
        token = "".join(c.lower() for c in token)
        current = ""
        for ch in token:
            if is_punctuation(ch):
                if current:
                    words.append(current)
                    current = ""
                words.append(ch)
            else:
                current += ch
        if current:
            words.append(current)
    return words


def wordpiece(word, vocab):
    if len(word) > MAX_CHARS_PER_WORD:
        return ["[UNK]"]
    pieces = []
    start = 0
    while start < len(word):
        end = len(word)
        found = None
        while start < end:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return ["[UNK]"]
        pieces.append(found)
        start = end
    return pieces


SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def split_specials(text):
    """Split out special tokens written literally in the text: Hugging Face tokenizers (fast and slow)
    match them before normalisation and give them their own ids, so "[SEP]" in a text becomes 102."""
    parts = [text]
    for special in SPECIAL_TOKENS:
        out = []
        for part in parts:
            if part in SPECIAL_TOKENS:
                out.append(part)
                continue
            pieces = part.split(special)
            for i, piece in enumerate(pieces):
                if i > 0:
                    out.append(special)
                out.append(piece)
        parts = out
    return parts


def encode(text, vocab):
    tokens = ["[CLS]"]
    for part in split_specials(text):
        if part in SPECIAL_TOKENS:
            tokens.append(part)
            continue
        for word in basic_tokenize(part):
            tokens.extend(wordpiece(word, vocab))
    tokens.append("[SEP]")
    return [vocab[t] for t in tokens]


EDGE_CASES = [
    "Hello, world!",
    "Hello world! Unaffable embeddings.",
    "",
    "   ",
    "Café déjà vu — naïve résumé, Ångström, Øresund, İstanbul.",
    "東京タワーは高い。北京欢迎你!",
    "Tabs\tand\nnewlines\r\nand\u00a0no-break\u2003em spaces",
    "zero\u200bwidth and soft\u00adhyphen and bell\u0007 and nul\u0000 and \ufffdreplacement",
    "Emoji 🙂 and symbols ∑∫√ and © ® ™",
    "Numbers 3.14159, 1,000,000 and 2nd-order 10^-3 ±5% (n=42)",
    "“Curly quotes” ‘single’ «guillemets» and ... ellipsis…",
    "x" * 150 + " short",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "IL-6/STAT3 & TNF-α; p<0.05; CD4+ T-cells; β-amyloid",
    "e-mail: someone@example.com, url: https://example.org/a?b=c",
    "ALL CAPS SHOUTING AND MiXeD CaSe",
    "[CLS] literal special tokens [SEP] in text [MASK]",
    "Ελληνικά και русский язык",
    # Each trigger of a Rust-vs-JavaScript difference on its own line (issue 12), so one cannot hide another.
    "\U00020000\U0002A6A5",
    "astral CJK a\U00020000b",
    "compatibility ideograph x\U0002F800y",
    "Rust CJK range ends a\U0002B81Fb, gap a\U0002B820b a\U0002B91Fb, starts again a\U0002B920b",
    "unassigned a\u0378b",
    "tag a\U000E0001b",
    "ΟΔΟΣ",
    "ΟΔΟΣ ΟΔΟΣ.",
    "Σ",
    "İstanbul",
    "e\u0301 combining acute",
    "ǅemal title case",
    "STRASSE \u1e9e \u00df",
    "\u212a\u2126 Kelvin and Ohm signs",
    "line\u2028separator and paragraph\u2029separator",
]


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data")
    with open(VOCAB, encoding="utf-8") as f:
        vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
    texts = list(EDGE_CASES)
    with open(os.path.join(data, "scifact", "queries.jsonl"), encoding="utf-8") as f:
        texts += [json.loads(line)["text"] for line in f][:100]
    with open(os.path.join(data, "scifact", "corpus.jsonl"), encoding="utf-8") as f:
        docs = [json.loads(line) for line in f][:80]
        # Title and text joined as BEIR does; the first 800 characters keep the fixture small.
        texts += [(d["title"] + " " + d["text"])[:800] for d in docs]
    with open(os.path.join(data, "cranfield", "corpus.jsonl"), encoding="utf-8") as f:
        texts += [json.loads(line)["text"][:800] for line in f][:30]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        for text in texts:
            f.write(json.dumps({"text": text, "ids": encode(text, vocab)}, ensure_ascii=False) + "\n")
    print(f"wrote {len(texts)} texts to {OUT}")


if __name__ == "__main__":
    main()
