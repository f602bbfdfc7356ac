import { ArgumentError } from '../../errors.js';
import { BertModel, RELATIVE_BIAS } from '../../models/architectures/bert.js';
import { sinusoids } from '../../models/architectures/bert-family.js';
import type { TransformerEncoder } from '../../models/architectures/encoder.js';
import { DataType } from '../onnx-schema.js';
import type { Blocks } from '../blocks.js';
import type { ArchitectureExport, GraphInputs } from './types.js';

/**
 * The BERT family (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, MPNet) as ONNX: what `BertModel.forward` computes
 * in inference, with the family member's differences taken from its spec: position ids counted from the
 * non-pad tokens in the graph (RoBERTa, MPNet), fixed sinusoidal positions (DistilBERT), token types
 * (BERT, RoBERTa) and MPNet's relative-position bias, whose buckets are computed in the graph from the
 * sequence length so that any length the position table holds works.
 */

/** Linear kernels are stored `[in, out]` (the transpose of the checkpoint's `[out, in]`). */
const KERNEL_DOC = 'Linear weight transposed to [in, out] (checkpoint layout is [out, in])';

function asBert(model: TransformerEncoder): BertModel {
  if (!(model instanceof BertModel)) {
    throw new ArgumentError(
      'encoder',
      `model_type ${model.config.model_type} is exported as a BertModel, got another class`,
    );
  }
  return model;
}

/**
 * MPNet's relative-position buckets `[seq, seq]` (int64), row = query, column = key: the bucket of
 * `key - query` as `relativePositionBucket` (bert-family.ts) computes it, in float32 as the tfjs model and
 * torch do, from the sequence length `seqLen` (an int64 scalar).
 */
export function relativeBuckets(b: Blocks, buckets: number, seqLen: string): string {
  const g = b.g;
  const half = Math.floor(buckets / 2);
  const maxExact = Math.floor(half / 2);
  const maxDistance = 128;
  const pos = b.range(seqLen);
  // n = -(key - query) = query - key, [seq, seq] with queries on rows.
  const n = b.op('Sub', [b.unsqueeze(pos, [1]), b.unsqueeze(pos, [0])]);
  const negative = b.op('Cast', [b.op('Less', [n, g.constInt(0)])], { to: DataType.INT64 });
  const base = b.mul(negative, g.constInt(half));
  const absN = b.op('Abs', [n]);
  const small = b.op('Less', [absN, g.constInt(maxExact)]);
  // The log branch on max(n, 1): n = 0 is always in the exact branch, and log(0) would be -inf.
  const nf = b.op('Cast', [b.op('Max', [absN, g.constInt(1)])], { to: DataType.FLOAT });
  const ratio = b.op('Div', [
    b.op('Log', [b.op('Div', [nf, g.constFloat(maxExact)])]),
    g.constFloat(Math.fround(Math.log(maxDistance / maxExact))),
  ]);
  const scaled = b.mul(ratio, g.constFloat(half - maxExact));
  const large = b.op('Min', [
    b.add(b.op('Cast', [scaled], { to: DataType.INT64 }), g.constInt(maxExact)),
    g.constInt(half - 1),
  ]);
  return b.add(base, b.op('Where', [small, absN, large]));
}

/** MPNet's `[1, heads, seq, seq]` attention bias: rows of the `[buckets, heads]` table by {@link relativeBuckets}. */
function relativeBias(b: Blocks, table: string, buckets: number, seqLen: string): string {
  const rows = b.op('Gather', [table, relativeBuckets(b, buckets, seqLen)], { axis: 0 }); // [seq, seq, heads]
  return b.unsqueeze(b.op('Transpose', [rows], { perm: [2, 0, 1] }), [0]);
}

/** The BERT family's exporter. */
export const BERT_FAMILY_EXPORT: ArchitectureExport = {
  tokenTypes: (model) => asBert(model).spec.tokenTypes,
  build(model: TransformerEncoder, b: Blocks, inputs: GraphInputs): string {
    const bert = asBert(model);
    const { config: cfg, spec } = bert;
    const g = b.g;
    const vars = bert.variables();
    const hfName = spec.fromCanonical ?? ((n: string): string => n);
    const w = (name: string, kernel = false): string =>
      b.weight(hfName(name), vars.get(name)!, kernel ? KERNEL_DOC : undefined);
    const ids = inputs.inputIds;

    const parts = [b.op('Gather', [w('embeddings.word_embeddings.weight'), ids], { axis: 0 })];
    const positionTable =
      spec.sinusoidalPositions?.(cfg) === true
        ? b.raw(
            'embeddings.position_embeddings.weight',
            sinusoids(cfg.max_position_embeddings, cfg.hidden_size),
            [cfg.max_position_embeddings, cfg.hidden_size],
          )
        : w('embeddings.position_embeddings.weight');
    const seqLen = b.dim(ids, 1);
    let positionIds: string;
    if (spec.positions === 'absolute') {
      positionIds = b.range(seqLen); // [seq], broadcast over the batch
    } else {
      // HF create_position_ids_from_input_ids: pad tokens at pad_token_id, the others count up from it.
      const notPad = b.op('Cast', [b.op('Not', [b.op('Equal', [ids, g.constInt(cfg.pad_token_id)])])], {
        to: DataType.INT64,
      });
      const counted = b.mul(b.op('CumSum', [notPad, g.constInt(1)]), notPad);
      positionIds = b.add(counted, g.constInt(cfg.pad_token_id));
    }
    parts.push(b.op('Gather', [positionTable, positionIds], { axis: 0 }));
    if (spec.tokenTypes) {
      if (inputs.tokenTypeIds === undefined) throw new Error('token_type_ids input missing');
      parts.push(
        b.op('Gather', [w('embeddings.token_type_embeddings.weight'), inputs.tokenTypeIds], { axis: 0 }),
      );
    }
    let sum = parts[0];
    for (const p of parts.slice(1)) sum = b.add(sum, p);
    const eps = cfg.layer_norm_eps;
    let x = b.layerNorm(sum, w('embeddings.LayerNorm.weight'), w('embeddings.LayerNorm.bias'), eps);

    const maskBias = b.maskBias(inputs.attentionMask);
    const biases = [maskBias];
    const table = vars.get(RELATIVE_BIAS);
    if (table !== undefined) {
      biases.unshift(relativeBias(b, w(RELATIVE_BIAS), table.shape[0], seqLen));
    }
    const hidden = cfg.hidden_size;
    const heads = cfg.num_attention_heads;
    const headDim = hidden / heads;
    const scale = g.constFloat(1 / Math.sqrt(headDim));
    for (let l = 0; l < cfg.num_hidden_layers; l++) {
      const p = `encoder.layer.${l}.`;
      const dense = (input: string, name: string): string =>
        b.linear(input, w(`${p}${name}.weight`, true), w(`${p}${name}.bias`));
      const q = b.heads(b.mul(dense(x, 'attention.self.query'), scale), heads, headDim);
      const kT = b.heads(dense(x, 'attention.self.key'), heads, headDim, [0, 2, 3, 1]);
      const v = b.heads(dense(x, 'attention.self.value'), heads, headDim);
      const ctx = b.mergeHeads(b.attention(q, kT, v, biases), hidden);
      const attnOut = dense(ctx, 'attention.output.dense');
      const x1 = b.layerNorm(
        b.add(attnOut, x),
        w(`${p}attention.output.LayerNorm.weight`),
        w(`${p}attention.output.LayerNorm.bias`),
        eps,
      );
      const inter = b.activate(dense(x1, 'intermediate.dense'), cfg.hidden_act);
      const out = dense(inter, 'output.dense');
      x = b.layerNorm(b.add(out, x1), w(`${p}output.LayerNorm.weight`), w(`${p}output.LayerNorm.bias`), eps);
    }
    return x;
  },
};
