import type { SentenceEncoder } from '../models/sentence-encoder.js';
import type { Blocks } from './blocks.js';

/**
 * Closing special tokens restored inside the exported graph, so that a runtime whose tokenizer truncates
 * differently still gets sentence-transformers' input.
 *
 * Cut to `max_seq_length`, sentence-transformers (Hugging Face `tokenizers`), and this library keep the
 * template's closing tokens and drop words: `[CLS] w1 … w62 [SEP]` at 64. transformers.js 4 cuts the finished
 * sequence instead (`[CLS] w1 … w63`): one more word and no `[SEP]`, so every text longer than the limit got a
 * different vector there (the demo model's SciFact nDCG@10 was 0.5898 through transformers.js against 0.5954
 * here, docs/deploy.md). The graph therefore writes the closing tokens over the last positions of every row
 * whose attention mask is exactly `max_seq_length` long. For a tokenizer that truncates like ours this is the
 * identity (such a row already ends with them), at any length a caller pads to, so Python (optimum,
 * sentence-transformers' ONNX backend) and our own engine see the same model.
 */

/** What the graph needs to restore the closing tokens. */
export interface ClosingTokens {
  /** The model's `max_seq_length`: the row length at which a tokenizer has truncated. */
  maxLength: number;
  /** Ids the post-processor appends after the text (BERT `[102]`). */
  suffix: number[];
  /** Their token type ids. */
  suffixTypes: number[];
  /** The token type id of text tokens (what a cut-short row carries where the suffix belongs). */
  textType: number;
}

/** The closing tokens of `encoder`'s tokenizer at its `max_seq_length`, or undefined when it appends none. */
export function closingTokensOf(encoder: SentenceEncoder): ClosingTokens | undefined {
  const { suffix, suffixTypes, textType } = encoder.tokenizer.singleTextSpecials;
  if (suffix.length === 0) return undefined; // nothing after the text: both truncations agree
  return { maxLength: encoder.maxSeqLength, suffix, suffixTypes, textType };
}

/**
 * `input_ids` (and `token_type_ids`, when the suffix's types differ from text tokens') with the closing
 * tokens written at positions `maxLength - s … maxLength - 1` of every row whose mask sums to `maxLength`.
 * `ids`, `mask`, `types`: int64 `[batch, seq]`.
 */
export function restoreClosingTokens(
  b: Blocks,
  ids: string,
  mask: string,
  types: string | undefined,
  spec: ClosingTokens,
): { ids: string; types: string | undefined } {
  const g = b.g;
  const s = spec.suffix.length;
  const start = spec.maxLength - s;
  const rowFull = b.op('Equal', [b.reduce('ReduceSum', mask, [1], true), g.constInt(spec.maxLength)]); // [batch, 1]
  const positions = b.range(b.dim(ids, 1)); // [seq]
  const inSuffix = b.op('And', [
    b.op('GreaterOrEqual', [positions, g.constInt(start)]),
    b.op('Less', [positions, g.constInt(spec.maxLength)]),
  ]);
  const where = b.op('And', [rowFull, inSuffix]); // [batch, seq]
  // Index into the suffix for every position; clipped so that positions outside it gather something valid
  // (the Where discards them).
  const slot = b.op('Clip', [b.op('Sub', [positions, g.constInt(start)]), g.constInt(0), g.constInt(s - 1)]);
  const restore = (values: number[], x: string): string =>
    b.op('Where', [where, b.op('Gather', [g.constInt(values), slot], { axis: 0 }), x]);
  const newIds = restore(spec.suffix, ids);
  const typesDiffer = spec.suffixTypes.some((t) => t !== spec.textType);
  return {
    ids: newIds,
    types: types !== undefined && typesDiffer ? restore(spec.suffixTypes, types) : types,
  };
}
