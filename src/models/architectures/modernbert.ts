import * as tf from '@tensorflow/tfjs';
import { ArgumentError, InputFormatError } from '../../errors.js';
import {
  activate,
  dropout as dropoutLayer,
  embeddingLookup,
  layerNorm,
  SUPPORTED_ACTIVATIONS,
} from '../layers.js';
import type { Activation } from '../layers.js';
import { requireBackend } from '../../backend/index.js';
import { checkLayersAgainstWeights, MAX_SCRATCH_PARAMETERS } from './bert.js';
import type {
  EncoderConfig,
  EncoderForwardOptions,
  EncoderInputs,
  HfTensor,
  TrainingMemoryProfile,
  TransformerEncoder,
} from './encoder.js';

/**
 * ModernBERT (`model_type` `modernbert`, HF `ModernBertModel`): pre-LayerNorm blocks (the first layer's
 * attention norm is the identity), rotary position embeddings (RoPE) with one theta for global and one for
 * local layers, every `global_attn_every_n_layers`-th layer attending globally and the others within a sliding
 * window of `local_attention` tokens (`|i - j| <= local_attention / 2`), a GeGLU feed-forward
 * (`Wo(act(a) * g)` with `[a, g] = Wi(x)`), no biases unless `attention_bias` / `mlp_bias` / `norm_bias` say
 * so, and a final LayerNorm.
 *
 * Layers run as composed tfjs ops with tfjs' own gradients (no fused one-tape-node layer: measured, it would
 * cut the ~3x larger training memory per token, not the time; docs/training.md); the memory guard sizes
 * it with its own profile ({@link MODERNBERT_TRAINING_MEMORY}).
 */

/** A parsed ModernBERT config (HF field names). */
export interface ModernBertConfig extends EncoderConfig {
  model_type: 'modernbert';
  hidden_activation: Activation;
  norm_eps: number;
  norm_bias: boolean;
  attention_bias: boolean;
  mlp_bias: boolean;
  global_rope_theta: number;
  local_rope_theta: number;
  global_attn_every_n_layers: number;
  local_attention: number;
  attention_dropout: number;
  embedding_dropout: number;
  mlp_dropout: number;
  initializer_range: number;
}

/** HF `ModernBertConfig` defaults. */
const DEFAULTS = {
  vocab_size: 50368,
  hidden_size: 768,
  intermediate_size: 1152,
  num_hidden_layers: 22,
  num_attention_heads: 12,
  hidden_activation: 'gelu',
  max_position_embeddings: 8192,
  initializer_range: 0.02,
  norm_eps: 1e-5,
  norm_bias: false,
  pad_token_id: 50283,
  global_rope_theta: 160000.0,
  attention_bias: false,
  attention_dropout: 0.0,
  global_attn_every_n_layers: 3,
  local_attention: 128,
  local_rope_theta: 10000.0,
  embedding_dropout: 0.0,
  mlp_bias: false,
  mlp_dropout: 0.0,
};

/**
 * Validate a ModernBERT `config.json` and fill HF defaults; errors name `file` and the field.
 *
 * @example
 * ```ts
 * const config = parseModernBertConfig({ model_type: 'modernbert', hidden_size: 768 }, 'config.json');
 * ```
 */
export function parseModernBertConfig(json: unknown, file?: string): ModernBertConfig {
  const fail = (message: string): never => {
    throw new InputFormatError(message, file);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('config must be a JSON object');
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== 'modernbert') {
    fail(`unsupported model_type ${JSON.stringify(raw.model_type)}; supported: modernbert`);
  }
  const c = { ...DEFAULTS, ...raw } as Record<string, unknown>;
  for (const key of [
    'vocab_size',
    'hidden_size',
    'intermediate_size',
    'num_hidden_layers',
    'num_attention_heads',
    'max_position_embeddings',
    'global_attn_every_n_layers',
    'local_attention',
  ]) {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      fail(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  for (const key of ['norm_eps', 'global_rope_theta', 'local_rope_theta', 'initializer_range']) {
    const v = c[key];
    if (typeof v !== 'number' || !(v > 0))
      fail(`"${key}" must be a positive number, got ${JSON.stringify(v)}`);
  }
  for (const key of ['norm_bias', 'attention_bias', 'mlp_bias']) {
    if (typeof c[key] !== 'boolean') fail(`"${key}" must be true or false, got ${JSON.stringify(c[key])}`);
  }
  if (!(SUPPORTED_ACTIVATIONS as readonly unknown[]).includes(c.hidden_activation)) {
    fail(
      `unsupported hidden_activation ${JSON.stringify(c.hidden_activation)}; supported: ${SUPPORTED_ACTIVATIONS.join(', ')}`,
    );
  }
  const hidden = c.hidden_size as number;
  const heads = c.num_attention_heads as number;
  if (hidden % heads !== 0 || (hidden / heads) % 2 !== 0) {
    fail(
      `hidden_size ${hidden} / num_attention_heads ${heads} must be an even head size (RoPE rotates pairs)`,
    );
  }
  if (typeof c.pad_token_id !== 'number' || !Number.isInteger(c.pad_token_id))
    c.pad_token_id = DEFAULTS.pad_token_id;
  return c as ModernBertConfig;
}

/** Parameter shapes in HF layout (`Linear.weight` is `[out, in]`), names without `model.`. */
/**
 * Refuse a config with more layers than the weights hold (names with or without `model.`), before the
 * expected shapes are listed; see {@link checkLayersAgainstWeights}.
 *
 * @throws {InputFormatError} naming `num_hidden_layers` and `file`.
 * @example
 * ```ts
 * checkModernBertLayers(config, tensors.keys(), 'model/config.json');
 * ```
 */
export function checkModernBertLayers(
  config: ModernBertConfig,
  names: Iterable<string>,
  file?: string,
): void {
  checkLayersAgainstWeights(config, names, file, /^(?:model\.)?layers\.(\d+)\./);
}

/** Parameters of a ModernBERT config (embeddings, layers, final norm), computed without allocating. */
export function modernBertParameterCount(c: ModernBertConfig): number {
  return parameterCount(hfShapes(c));
}

/**
 * What a training step of ModernBERT keeps per token (see {@link TrainingMemoryProfile}). Its layers are
 * composed tfjs ops, so the tape keeps every op's saved inputs and every intermediate gradient: the RoPE
 * rotation of q and k alone is a dozen [tokens, hidden] tensors. Fitted to peaks measured with
 * `benchmarks/train-memory.ts --arch modernbert` (6 layers; hidden 384 / intermediate 576 / 6 heads at
 * sequence 128 and 256, hidden 256 / intermediate 768 / 4 heads at 128: 895, 1012 and 726 KB per token;
 * docs/training.md), with BERT's `outside` term and a transient term whose intermediate share is doubled for
 * GeGLU's two halves. About 3x BERT's fused layer per token.
 */
export const MODERNBERT_TRAINING_MEMORY: TrainingMemoryProfile = {
  kept: { hidden: 58, intermediate: 13, scores: 5.7, outside: 21 },
  transient: { hidden: 24, intermediate: 12, scores: 8 },
};

function parameterCount(shapes: Map<string, number[]>): number {
  let n = 0;
  for (const shape of shapes.values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * The scratch-size rule of BERT ({@link MAX_SCRATCH_PARAMETERS}) for ModernBERT: the parameter count from a
 * 0- and a 1-layer table, so that a typo like `num_hidden_layers: 1e9` is refused without listing its layers.
 *
 * @throws {InputFormatError} naming `file` when the config is too large.
 * @example
 * ```ts
 * checkModernBertScratchSize(parseModernBertConfig(json, 'config.json'), 'config.json');
 * ```
 */
export function checkModernBertScratchSize(c: ModernBertConfig, file?: string): void {
  const base = parameterCount(hfShapes({ ...c, num_hidden_layers: 0 }));
  const perLayer = parameterCount(hfShapes({ ...c, num_hidden_layers: 1 })) - base;
  const params = base + c.num_hidden_layers * perLayer;
  if (params <= MAX_SCRATCH_PARAMETERS) return;
  throw new InputFormatError(
    `this config has ${params.toExponential(2)} parameters (hidden_size ${c.hidden_size}, ` +
      `num_hidden_layers ${c.num_hidden_layers}, intermediate_size ${c.intermediate_size}, vocab_size ` +
      `${c.vocab_size}), more than the ${MAX_SCRATCH_PARAMETERS.toExponential(0)} a randomly initialised model may have`,
    file,
  );
}

function hfShapes(c: ModernBertConfig): Map<string, number[]> {
  const h = c.hidden_size;
  const i = c.intermediate_size;
  const shapes = new Map<string, number[]>([['embeddings.tok_embeddings.weight', [c.vocab_size, h]]]);
  const norm = (name: string): void => {
    shapes.set(`${name}.weight`, [h]);
    if (c.norm_bias) shapes.set(`${name}.bias`, [h]);
  };
  const linear = (name: string, out: number, inF: number, bias: boolean): void => {
    shapes.set(`${name}.weight`, [out, inF]);
    if (bias) shapes.set(`${name}.bias`, [out]);
  };
  norm('embeddings.norm');
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `layers.${l}.`;
    if (l !== 0) norm(`${p}attn_norm`);
    linear(`${p}attn.Wqkv`, 3 * h, h, c.attention_bias);
    linear(`${p}attn.Wo`, h, h, c.attention_bias);
    norm(`${p}mlp_norm`);
    linear(`${p}mlp.Wi`, 2 * i, h, c.mlp_bias);
    linear(`${p}mlp.Wo`, h, i, c.mlp_bias);
  }
  norm('final_norm');
  return shapes;
}

const isKernel = (name: string): boolean => /\.(Wqkv|Wo|Wi)\.weight$/.test(name);

// The additive mask HF uses: the float32 minimum, so masked logits vanish after softmax.
const MASK_VALUE = -3.4028234663852886e38;

let counter = 0;

/**
 * A ModernBERT encoder.
 *
 * @example
 * ```ts
 * const model = ModernBertModel.random(parseModernBertConfig({ model_type: 'modernbert', hidden_size: 64,
 *   num_attention_heads: 4, num_hidden_layers: 3, intermediate_size: 96, vocab_size: 1000 }), 1);
 * const hidden = model.forward({ inputIds, attentionMask }); // [batch, seq, 64]
 * ```
 */
export class ModernBertModel implements TransformerEncoder {
  readonly config: ModernBertConfig;
  private readonly vars: Map<string, tf.Variable>;
  private disposed = false;

  private constructor(config: ModernBertConfig, vars: Map<string, tf.Variable>) {
    this.config = config;
    this.vars = vars;
  }

  /** HF initialisation: weights ~ N(0, initializer_range) (HF truncates at 2 std), norms 1, biases 0. */
  static random(config: ModernBertConfig, seed?: number): ModernBertModel {
    requireBackend('ModernBertModel.random');
    checkModernBertScratchSize(config);
    const id = counter++;
    const vars = new Map<string, tf.Variable>();
    let k = 0;
    for (const [name, shape] of hfShapes(config)) {
      const s = seed === undefined ? undefined : seed * 7919 + k++;
      const init = tf.tidy(() => {
        if (/norm\.weight$/.test(name)) return tf.ones(shape);
        if (name.endsWith('.bias')) return tf.zeros(shape);
        const w = tf.truncatedNormal(shape, 0, config.initializer_range, 'float32', s);
        return isKernel(name) ? tf.transpose(w) : w;
      });
      vars.set(name, tf.variable(init, true, `modernbert${id}/${name}`));
      init.dispose();
    }
    return new ModernBertModel(config, vars);
  }

  /** From checkpoint tensors (HF names, with or without `model.`); errors name the tensor and `file`. */
  static fromWeights(
    config: ModernBertConfig,
    weights: Map<string, tf.Tensor>,
    file?: string,
  ): ModernBertModel {
    const byName = new Map<string, tf.Tensor>();
    for (const [name, t] of weights) byName.set(name.startsWith('model.') ? name.slice(6) : name, t);
    checkModernBertLayers(config, byName.keys(), file);
    const shapes = hfShapes(config);
    const missing = [...shapes.keys()].filter((n) => !byName.has(n));
    if (missing.length > 0) {
      const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
      throw new InputFormatError(
        `missing weight${missing.length > 1 ? 's' : ''} ${missing.slice(0, 3).join(', ')}${more} (is this a ModernBERT checkpoint?)`,
        file,
      );
    }
    for (const [name, shape] of shapes) {
      const t = byName.get(name)!;
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new InputFormatError(
          `tensor ${name} has shape [${t.shape.join(', ')}] but config.json implies [${shape.join(', ')}]; ` +
            'config and weights do not match',
          file,
        );
      }
    }
    const id = counter++;
    const vars = new Map<string, tf.Variable>();
    for (const name of shapes.keys()) {
      const src = byName.get(name)!;
      const value = tf.tidy(() => {
        const f = src.dtype === 'float32' ? src : tf.cast(src, 'float32');
        return isKernel(name) ? tf.transpose(f) : tf.clone(f);
      });
      vars.set(name, tf.variable(value, true, `modernbert${id}/${name}`));
      value.dispose();
    }
    return new ModernBertModel(config, vars);
  }

  get hiddenSize(): number {
    return this.config.hidden_size;
  }

  get maxSequenceLength(): number {
    return this.config.max_position_embeddings;
  }

  variables(): Map<string, tf.Variable> {
    this.checkAlive();
    return new Map(this.vars);
  }

  hfTensors(): Map<string, HfTensor> {
    this.checkAlive();
    const out = new Map<string, HfTensor>();
    for (const [name, v] of this.vars) {
      const t = isKernel(name) ? tf.transpose(v) : v;
      out.set(name, { shape: t.shape.slice(), data: t.dataSync() as Float32Array });
      if (t !== v) t.dispose();
    }
    return out;
  }

  hfConfig(): Record<string, unknown> {
    return { architectures: ['ModernBertModel'], ...this.config };
  }

  /** Last hidden state `[batch, seq, hidden]` (after the final norm). */
  forward(inputs: EncoderInputs, options: EncoderForwardOptions = {}): tf.Tensor3D {
    this.checkAlive();
    const { inputIds, attentionMask } = inputs;
    const c = this.config;
    if (inputIds.rank !== 2 || attentionMask.rank !== 2) {
      throw new ArgumentError('inputIds', 'expected 2-D [batch, seq] ids and mask');
    }
    const [batch, seq] = inputIds.shape;
    if (seq > c.max_position_embeddings) {
      throw new ArgumentError(
        'inputIds',
        `sequence length ${seq} exceeds max_position_embeddings ${c.max_position_embeddings}`,
      );
    }
    const ids = inputIds.dataSync();
    for (let i = 0; i < ids.length; i++) {
      if (!(ids[i] >= 0 && ids[i] < c.vocab_size)) {
        throw new ArgumentError(
          'inputIds',
          `id ${ids[i]} at position ${i} is outside [0, ${c.vocab_size}) (vocab_size)`,
        );
      }
    }
    const h = c.hidden_size;
    const heads = c.num_attention_heads;
    const hd = h / heads;
    const training = options.training === true;
    let drops = 0;
    const drop = (x: tf.Tensor, rate: number): tf.Tensor => {
      if (!training || rate === 0) return x;
      const seed = options.dropoutSeed === undefined ? undefined : `${options.dropoutSeed}:${drops}`;
      drops++;
      return dropoutLayer(x, rate, seed);
    };
    const v = (name: string): tf.Variable | undefined => this.vars.get(name);
    const norm = (x: tf.Tensor2D, name: string): tf.Tensor2D =>
      layerNorm(
        x,
        v(`${name}.weight`) as tf.Tensor1D,
        (v(`${name}.bias`) ?? tf.zeros([h])) as tf.Tensor1D,
        c.norm_eps,
      );
    const linear = (x: tf.Tensor2D, name: string): tf.Tensor2D => {
      const y = tf.matMul(x, v(`${name}.weight`) as tf.Tensor2D);
      const b = v(`${name}.bias`);
      return (b === undefined ? y : tf.add(y, b)) as tf.Tensor2D;
    };

    return tf.tidy(() => {
      const padMask = tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), MASK_VALUE), [
        batch,
        1,
        1,
        seq,
      ]);
      // Sliding-window layers also mask keys farther than local_attention / 2 from the query (HF's window mask).
      const half = Math.floor(c.local_attention / 2);
      const window = new Float32Array(seq * seq);
      for (let q = 0; q < seq; q++)
        for (let k = 0; k < seq; k++) window[q * seq + k] = Math.abs(q - k) <= half ? 0 : MASK_VALUE;
      // Clipped at the float32 minimum: a key both padded and out of the window would sum to -Infinity.
      const localMask = tf.maximum(tf.add(padMask, tf.tensor4d(window, [1, 1, seq, seq])), MASK_VALUE);
      const rope = (theta: number): { cos: tf.Tensor; sin: tf.Tensor } => {
        // inv_freq in float32 as torch computes it; angles for positions 0..seq-1, duplicated across halves.
        const cos = new Float32Array(seq * hd);
        const sin = new Float32Array(seq * hd);
        for (let j = 0; j < hd / 2; j++) {
          const inv = Math.fround(1 / Math.fround(Math.pow(theta, Math.fround((2 * j) / hd))));
          for (let p = 0; p < seq; p++) {
            const angle = Math.fround(p * inv);
            cos[p * hd + j] = cos[p * hd + j + hd / 2] = Math.cos(angle);
            sin[p * hd + j] = sin[p * hd + j + hd / 2] = Math.sin(angle);
          }
        }
        return { cos: tf.tensor4d(cos, [1, 1, seq, hd]), sin: tf.tensor4d(sin, [1, 1, seq, hd]) };
      };
      const globalRope = rope(c.global_rope_theta);
      const localRope = rope(c.local_rope_theta);
      const rotate = (x: tf.Tensor, r: { cos: tf.Tensor; sin: tf.Tensor }): tf.Tensor => {
        const x1 = tf.slice(x, [0, 0, 0, 0], [batch, heads, seq, hd / 2]);
        const x2 = tf.slice(x, [0, 0, 0, hd / 2], [batch, heads, seq, hd / 2]);
        return tf.add(tf.mul(x, r.cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), r.sin));
      };

      const flat = tf.reshape(tf.cast(inputIds, 'int32'), [-1]) as tf.Tensor1D;
      let x = norm(
        embeddingLookup(v('embeddings.tok_embeddings.weight') as tf.Tensor2D, flat),
        'embeddings.norm',
      );
      x = drop(x, c.embedding_dropout) as tf.Tensor2D;
      for (let l = 0; l < c.num_hidden_layers; l++) {
        const p = `layers.${l}.`;
        const isGlobal = l % c.global_attn_every_n_layers === 0;
        const input = x;
        x = tf.tidy(() => {
          const a = l === 0 ? input : norm(input, `${p}attn_norm`);
          const qkv = linear(a, `${p}attn.Wqkv`);
          // Column blocks of the fused projection, each to [batch, heads, seq, headDim]: three 4-D transposes
          // (the layout BERT's layer uses) instead of one 5-D transpose of the whole qkv.
          const part = (i: number): tf.Tensor =>
            tf.transpose(
              tf.reshape(tf.slice(qkv, [0, i * h], [batch * seq, h]), [batch, seq, heads, hd]),
              [0, 2, 1, 3],
            );
          const r = isGlobal ? globalRope : localRope;
          // RoPE is linear, so scaling queries before it (not the [seq, seq] scores after) is the same product.
          const q = rotate(tf.mul(part(0), 1 / Math.sqrt(hd)), r);
          const k = rotate(part(1), r);
          const scores = tf.matMul(
            tf.reshape(q, [batch * heads, seq, hd]) as tf.Tensor3D,
            tf.reshape(k, [batch * heads, seq, hd]) as tf.Tensor3D,
            false,
            true,
          );
          const probs = drop(
            tf.softmax(tf.add(tf.reshape(scores, [batch, heads, seq, seq]), isGlobal ? padMask : localMask)),
            c.attention_dropout,
          );
          const ctx = tf.matMul(
            tf.reshape(probs, [batch * heads, seq, seq]) as tf.Tensor3D,
            tf.reshape(part(2), [batch * heads, seq, hd]) as tf.Tensor3D,
          );
          const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [batch, heads, seq, hd]), [0, 2, 1, 3]), [
            batch * seq,
            h,
          ]) as tf.Tensor2D;
          const afterAttn = tf.add(
            input,
            drop(linear(merged, `${p}attn.Wo`), c.attention_dropout),
          ) as tf.Tensor2D;
          const wi = linear(norm(afterAttn, `${p}mlp_norm`), `${p}mlp.Wi`);
          const i = c.intermediate_size;
          const gated = tf.mul(
            activate(tf.slice(wi, [0, 0], [batch * seq, i]), c.hidden_activation),
            tf.slice(wi, [0, i], [batch * seq, i]),
          ) as tf.Tensor2D;
          return tf.add(
            afterAttn,
            linear(drop(gated, c.mlp_dropout) as tf.Tensor2D, `${p}mlp.Wo`),
          ) as tf.Tensor2D;
        });
      }
      return tf.reshape(norm(x, 'final_norm'), [batch, seq, h]) as tf.Tensor3D;
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.vars.values()) t.dispose();
    this.vars.clear();
  }

  private checkAlive(): void {
    if (this.disposed) throw new ArgumentError('model', 'this ModernBertModel has been disposed');
  }
}
