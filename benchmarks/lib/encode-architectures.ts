/**
 * Case `architectures`: the same SciFact passages encoded in this thread by a randomly initialised model of
 * each architecture family (BERT, RoBERTa / XLM-R, DistilBERT, MPNet, ModernBERT) at the benchmark's width and depth,
 * with the tokens/s of each relative to BERT (issue 14 asks for none slower than 1.5x BERT per token). No
 * PyTorch reference: the families share one block, so the `encode` case's reference covers them.
 */
import type { BackendName } from '../../src/backend/index.js';
import { parseEncoderConfig, randomEncoder } from '../../src/models/architectures/registry.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../../src/tokenize/tokenizer.js';
import { cpuSince, note, since } from './common.js';
import type { Row } from './common.js';
import { readPassages } from './encode.js';
import type { BenchOptions } from './options.js';

/** The families, each as the config.json its checkpoints carry at the given shape. */
function familyConfigs(
  shape: BenchOptions['shape'],
  vocab: number,
  positions: number,
): Record<string, Record<string, unknown>> {
  const bertLike = {
    vocab_size: vocab,
    hidden_size: shape.hidden,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: shape.intermediate,
  };
  return {
    bert: { model_type: 'bert', ...bertLike, max_position_embeddings: positions },
    // RoBERTa-style position ids need pad_token_id + 1 more rows.
    roberta: {
      model_type: 'roberta',
      ...bertLike,
      max_position_embeddings: positions + 2,
      type_vocab_size: 1,
    },
    distilbert: {
      model_type: 'distilbert',
      vocab_size: vocab,
      dim: shape.hidden,
      n_layers: shape.layers,
      n_heads: shape.heads,
      hidden_dim: shape.intermediate,
      max_position_embeddings: positions,
    },
    mpnet: { model_type: 'mpnet', ...bertLike, max_position_embeddings: positions + 2 },
    // GeGLU's Wi is 2 x intermediate wide: 2/3 of BERT's intermediate gives the same FFN multiply-adds.
    modernbert: {
      model_type: 'modernbert',
      ...bertLike,
      intermediate_size: Math.round((2 * shape.intermediate) / 3),
      max_position_embeddings: positions,
      pad_token_id: 0,
    },
  };
}

/** Rounds over the families: each round encodes the texts once per family, in a rotated order. */
const ROUNDS = 3;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * On a machine shared with other jobs the load changes within seconds, so the families are not timed one
 * after the other: every round times each family once, in an order rotated from round to round, and a
 * family's time per token is compared with BERT's of the same round; the row reports the median over rounds
 * (`--quick`: one round).
 */
export async function benchEncodeArchitectures(opts: BenchOptions, backend: BackendName): Promise<Row[]> {
  const { shape } = opts;
  const { seqLen, batchSize, corpus, texts: count } = opts.encode;
  const passages = await readPassages(corpus);
  const stride = passages.length / count;
  const texts = Array.from({ length: count }, (_, i) => passages[Math.floor(i * stride)]);
  const tokenizer = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);
  const tokens = texts.reduce((n, t) => n + tokenizer.tokenLength(t, { maxLength: seqLen }), 0);
  const vocab = Math.max(shape.vocab, tokenizer.vocabSize);
  const families = Object.entries(familyConfigs(shape, vocab, Math.max(512, seqLen)));
  const encoders = families.map(
    ([, json]) =>
      new SentenceEncoder({
        model: randomEncoder(parseEncoderConfig(json), 0),
        tokenizer,
        pooling: 'mean',
        normalize: false,
        maxSeqLength: seqLen,
      }),
  );
  const rounds = opts.quick ? 1 : ROUNDS;
  const seconds = families.map(() => [] as number[]);
  const cpu = families.map(() => [] as number[]);
  try {
    // One untimed batch first: the first call of a shape compiles / allocates in every backend.
    for (const e of encoders)
      await e.encode(texts.slice(0, batchSize), { batchSize, quiet: true, engine: 'tfjs' });
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < families.length; j++) {
        const f = (j + r) % families.length;
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await encoders[f].encode(texts, { batchSize, quiet: true, engine: 'tfjs' });
        seconds[f].push(since(t0));
        cpu[f].push(cpuSince(c0));
      }
    }
  } finally {
    for (const e of encoders) e.dispose();
  }
  return families.map(([family], f) => {
    const ratios = seconds[f].map((t, r) => t / seconds[0][r]);
    const slowdown = median(ratios);
    // CPU time of this process: less sensitive than wall time to other jobs taking the cores.
    const cpuRatios = cpu[f].map((t, r) => t / cpu[0][r]);
    const tokensPerSec = tokens / median(seconds[f]);
    note(
      `encode ${family}: ${tokensPerSec.toFixed(0)} tokens/s, ${slowdown.toFixed(2)}x BERT's time per token ` +
        `(rounds: ${ratios.map((x) => x.toFixed(2)).join(', ')}; CPU time ${median(cpuRatios).toFixed(2)}x)`,
    );
    return {
      name: 'encode-architectures',
      backend,
      variant: family,
      layers: shape.layers,
      hidden: shape.hidden,
      heads: shape.heads,
      intermediate: shape.intermediate,
      seqLen,
      batchSize,
      texts: count,
      tokens,
      rounds,
      seconds: median(seconds[f]),
      cpuSeconds: median(cpu[f]),
      tokensPerSec,
      timePerTokenVsBert: slowdown,
      timePerTokenVsBertByRound: ratios,
      cpuTimePerTokenVsBert: median(cpuRatios),
    };
  });
}
