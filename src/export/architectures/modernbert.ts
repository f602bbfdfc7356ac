import { ArgumentError } from '../../errors.js';
import type { TransformerEncoder } from '../../models/architectures/encoder.js';
import { ModernBertModel } from '../../models/architectures/modernbert.js';
import { DataType } from '../onnx-schema.js';
import { MASK_VALUE } from '../blocks.js';
import type { Blocks } from '../blocks.js';
import type { ArchitectureExport, GraphInputs } from './types.js';

/**
 * ModernBERT as ONNX: what `ModernBertModel.forward` computes in inference. Pre-LayerNorm blocks (the first
 * layer's attention norm is the identity), rotary embeddings with the global or the local theta per layer,
 * every `global_attn_every_n_layers`-th layer global and the others restricted to `|i - j| <= local_attention
 * / 2` (the window mask is built in the graph from the sequence length), GeGLU feed-forward, final norm.
 */

const KERNEL_DOC = 'Linear weight transposed to [in, out] (checkpoint layout is [out, in])';

function asModernBert(model: TransformerEncoder): ModernBertModel {
  if (!(model instanceof ModernBertModel)) {
    throw new ArgumentError(
      'encoder',
      'model_type modernbert is exported as a ModernBertModel, got another class',
    );
  }
  return model;
}

/**
 * `cos` and `sin` tables `[seq, headDim]` of positions `0..seq-1`: the inverse frequencies in float32 as torch
 * computes them (constants here), the angles in the graph, each duplicated across the two halves.
 */
function rope(b: Blocks, theta: number, headDim: number, positions: string): { cos: string; sin: string } {
  const inv: number[] = [];
  for (let j = 0; j < headDim / 2; j++)
    inv.push(Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * j) / headDim)))));
  const angles = b.mul(b.unsqueeze(positions, [1]), b.g.constFloat(inv, [1, headDim / 2]));
  const full = b.op('Concat', [angles, angles], { axis: -1 });
  return { cos: b.op('Cos', [full]), sin: b.op('Sin', [full]) };
}

/** `x cos + rotate_half(x) sin` on `[batch, heads, seq, headDim]`. */
function rotate(b: Blocks, x: string, r: { cos: string; sin: string }): string {
  const [x1, x2] = b.splitLast(x, 2);
  const rotated = b.op('Concat', [b.op('Neg', [x2]), x1], { axis: -1 });
  return b.add(b.mul(x, r.cos), b.mul(rotated, r.sin));
}

/** The ModernBERT exporter. */
export const MODERNBERT_EXPORT: ArchitectureExport = {
  tokenTypes(model) {
    asModernBert(model);
    return false;
  },
  build(model: TransformerEncoder, b: Blocks, inputs: GraphInputs): string {
    const m = asModernBert(model);
    const c = m.config;
    const g = b.g;
    const vars = m.variables();
    const w = (name: string, kernel = false): string | undefined => {
      const v = vars.get(name);
      return v === undefined ? undefined : b.weight(name, v, kernel ? KERNEL_DOC : undefined);
    };
    const h = c.hidden_size;
    const heads = c.num_attention_heads;
    const hd = h / heads;
    // LayerNormalization takes a bias; without norm_bias it is a zero vector, shared by every norm.
    let zeros: string | undefined;
    const norm = (x: string, name: string): string =>
      b.layerNorm(
        x,
        w(`${name}.weight`)!,
        w(`${name}.bias`) ?? (zeros ??= b.raw('zero_norm_bias', new Float32Array(h), [h])),
        c.norm_eps,
      );
    const linear = (x: string, name: string): string =>
      b.linear(x, w(`${name}.weight`, true)!, w(`${name}.bias`));

    const ids = inputs.inputIds;
    const seqLen = b.dim(ids, 1);
    const positions = b.range(seqLen);
    const padBias = b.maskBias(inputs.attentionMask);
    // Sliding-window layers also mask keys farther than local_attention / 2 from the query, clipped at the
    // float32 minimum as the tfjs model does (a key both padded and far would otherwise sum to -Infinity).
    const distance = b.op('Abs', [b.op('Sub', [b.unsqueeze(positions, [1]), b.unsqueeze(positions, [0])])]);
    const far = b.op('Greater', [distance, g.constInt(Math.floor(c.local_attention / 2))]);
    const window = b.op('Where', [far, g.constFloat(MASK_VALUE), g.constFloat(0)]);
    const localBias = b.op('Max', [b.add(padBias, window), g.constFloat(MASK_VALUE)]);
    const positionsF = b.op('Cast', [positions], { to: DataType.FLOAT });
    const globalRope = rope(b, c.global_rope_theta, hd, positionsF);
    const localRope = rope(b, c.local_rope_theta, hd, positionsF);
    const scale = g.constFloat(1 / Math.sqrt(hd));

    let x = norm(
      b.op('Gather', [w('embeddings.tok_embeddings.weight')!, ids], { axis: 0 }),
      'embeddings.norm',
    );
    for (let l = 0; l < c.num_hidden_layers; l++) {
      const p = `layers.${l}.`;
      const isGlobal = l % c.global_attn_every_n_layers === 0;
      const a = l === 0 ? x : norm(x, `${p}attn_norm`);
      const [qs, ks, vs] = b.splitLast(linear(a, `${p}attn.Wqkv`), 3);
      const r = isGlobal ? globalRope : localRope;
      const q = rotate(b, b.mul(b.heads(qs, heads, hd), scale), r);
      const k = rotate(b, b.heads(ks, heads, hd), r);
      const kT = b.op('Transpose', [k], { perm: [0, 1, 3, 2] });
      const ctx = b.attention(q, kT, b.heads(vs, heads, hd), [isGlobal ? padBias : localBias]);
      const afterAttn = b.add(x, linear(b.mergeHeads(ctx, h), `${p}attn.Wo`));
      const [gate, up] = b.splitLast(linear(norm(afterAttn, `${p}mlp_norm`), `${p}mlp.Wi`), 2);
      const gated = b.mul(b.activate(gate, c.hidden_activation), up);
      x = b.add(afterAttn, linear(gated, `${p}mlp.Wo`));
    }
    return norm(x, 'final_norm');
  },
};
