import * as tf from '@tensorflow/tfjs';
import { ArgumentError, InputFormatError } from '../../errors.js';
import {
  activate,
  activationBackwardFromSaved,
  activationForwardSaving,
  activationValueFromSaved,
  dropout as dropoutLayer,
  dropoutMask,
  embeddingLookup,
  layerNorm,
  layerNormBackward,
  layerNormForward,
  linear,
  linearBackward,
  linearForward,
  multiplierFromMask,
  scaleBy,
} from '../layers.js';
import { requireBackend } from '../../backend/index.js';
import type { HfTensor, TrainingMemoryProfile, TransformerEncoder } from './encoder.js';
import {
  BERT_SPEC,
  bertFamilyMaxLength,
  relativePositionBucket,
  RELATIVE_BIAS,
  sinusoids,
} from './bert-family.js';
import type { BertConfig, BertFamilySpec, BertForwardOptions, BertInputs } from './bert-family.js';
import type { INT_FIELDS } from './bert-family.js';

// The family's config and specs live in bert-family.ts; re-exported so that importers of bert.ts keep working.
export {
  BERT_DEFAULTS,
  BERT_SPEC,
  bertFamilyMaxLength,
  layerRenamer,
  parseBertConfig,
  parseBertFamilyConfig,
  relativePositionBucket,
  RELATIVE_BIAS,
  withoutAddedFields,
} from './bert-family.js';
export type { BertConfig, BertFamilySpec, BertForwardOptions, BertInputs } from './bert-family.js';

/** Parameters of a BERT encoder with `config` (embeddings, layers and pooler), computed without allocating. */
export function bertParameterCount(config: BertConfig): number {
  const h = config.hidden_size;
  const i = config.intermediate_size;
  const embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size + 2) * h;
  const layer = 4 * (h * h + h) + 2 * h + (i * h + i) + (h * i + h) + 2 * h;
  return embeddings + config.num_hidden_layers * layer + h * h + h;
}

/**
 * What a training step of the BERT family keeps per token (see {@link TrainingMemoryProfile}). The layer
 * terms count what the fused layer saves: its input, q, k, v, context, two LayerNorm outputs and normalised
 * rows, the FFN pre-activation and activation, the attention probabilities, bool dropout masks, and the input
 * gradient tfjs holds. `outside` is fitted: it makes the slope match the measured 311 KB per token of the
 * MiniLM-L6 shape (docs/training.md, "Memory on the wasm backend").
 */
export const BERT_TRAINING_MEMORY: TrainingMemoryProfile = {
  kept: { hidden: 10.5, intermediate: 2, scores: 1.25, outside: 21 },
  transient: { hidden: 24, intermediate: 6, scores: 8 },
};

/**
 * Upper bound on the parameters of a randomly initialised (`scratch:`) model: 1e9 float32 values are 4 GB,
 * the whole wasm heap; a config beyond it is a typo (e.g. `hidden_size: 1e9`), refused before allocating.
 */
export const MAX_SCRATCH_PARAMETERS = 1e9;

// bert-base-uncased: the yardstick for naming the field that makes a config too large.
const BERT_BASE: Partial<Record<(typeof INT_FIELDS)[number], number>> = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  intermediate_size: 3072,
  max_position_embeddings: 512,
  type_vocab_size: 2,
};

/**
 * Refuse a config whose random initialisation would exceed {@link MAX_SCRATCH_PARAMETERS}, naming the
 * field furthest above bert-base's value.
 *
 * @throws {InputFormatError} naming the field and `file`.
 * @example
 * ```ts
 * checkScratchSize(parseBertConfig(json, 'tiny.json'), 'tiny.json');
 * ```
 */
export function checkScratchSize(config: BertConfig, file?: string): void {
  const params = bertParameterCount(config);
  if (params <= MAX_SCRATCH_PARAMETERS) return;
  let field: (typeof INT_FIELDS)[number] = 'hidden_size';
  let worst = 0;
  for (const [key, base] of Object.entries(BERT_BASE) as [(typeof INT_FIELDS)[number], number][]) {
    const ratio = (config[key] as number) / base;
    if (ratio > worst) {
      worst = ratio;
      field = key;
    }
  }
  throw new InputFormatError(
    `"${field}" is ${config[field]}: this config has ${params.toExponential(2)} parameters, more than the ` +
      `${MAX_SCRATCH_PARAMETERS.toExponential(0)} a randomly initialised model may have`,
    file,
  );
}

/**
 * Refuse a config that asks for more encoder layers than the weights hold, before the expected shapes are
 * listed: `num_hidden_layers: 1e9` next to real weights used to build a billion-layer table for minutes.
 *
 * @throws {InputFormatError} naming `num_hidden_layers` and `file` (the config.json).
 * @example
 * ```ts
 * checkLayersAgainstWeights(config, tensors.keys(), 'model/config.json');
 * ```
 * `layerPattern` captures the layer index of a tensor name (default BERT's canonical `encoder.layer.N.`).
 */
export function checkLayersAgainstWeights(
  config: Pick<BertConfig, 'num_hidden_layers'>,
  names: Iterable<string>,
  file?: string,
  layerPattern: RegExp = /(?:^|\.)encoder\.layer\.(\d+)\./,
): void {
  let layers = 0;
  for (const name of names) {
    const m = layerPattern.exec(name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (config.num_hidden_layers > layers) {
    throw new InputFormatError(
      `"num_hidden_layers" is ${config.num_hidden_layers} but the weights have ${layers} layer${layers === 1 ? '' : 's'}; config and weights do not match`,
      file,
    );
  }
}

/**
 * {@link checkLayersAgainstWeights} on checkpoint names of any family member (`bert.encoder.layer.N.`,
 * `distilbert.transformer.layer.N.` ...): names are mapped to BERT's canonical ones first.
 *
 * @throws {InputFormatError} naming `num_hidden_layers` and `file` (the config.json).
 * @example
 * ```ts
 * checkFamilyLayers(config, tensors.keys(), 'model/config.json', DISTILBERT_SPEC);
 * ```
 */
export function checkFamilyLayers(
  config: BertConfig,
  names: Iterable<string>,
  file: string | undefined,
  spec: BertFamilySpec,
): void {
  checkLayersAgainstWeights(
    config,
    [...names].map((n) => canonicalName(n, spec)),
    file,
  );
}

/** Parameter shapes in Hugging Face layout (PyTorch `Linear.weight` is `[out, in]`). */
function hfShapes(config: BertConfig, spec: BertFamilySpec): Map<string, number[]> {
  const h = config.hidden_size;
  const i = config.intermediate_size;
  const shapes = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [config.vocab_size, h]],
    ['embeddings.position_embeddings.weight', [config.max_position_embeddings, h]],
  ]);
  if (spec.tokenTypes) shapes.set('embeddings.token_type_embeddings.weight', [config.type_vocab_size, h]);
  shapes.set('embeddings.LayerNorm.weight', [h]);
  shapes.set('embeddings.LayerNorm.bias', [h]);
  const buckets = spec.relativeAttentionBuckets?.(config);
  if (buckets !== undefined) shapes.set(RELATIVE_BIAS, [buckets, config.num_attention_heads]);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}.`;
    for (const name of [
      'attention.self.query',
      'attention.self.key',
      'attention.self.value',
      'attention.output.dense',
    ]) {
      shapes.set(`${p}${name}.weight`, [h, h]);
      shapes.set(`${p}${name}.bias`, [h]);
    }
    shapes.set(`${p}attention.output.LayerNorm.weight`, [h]);
    shapes.set(`${p}attention.output.LayerNorm.bias`, [h]);
    shapes.set(`${p}intermediate.dense.weight`, [i, h]);
    shapes.set(`${p}intermediate.dense.bias`, [i]);
    shapes.set(`${p}output.dense.weight`, [h, i]);
    shapes.set(`${p}output.dense.bias`, [h]);
    shapes.set(`${p}output.LayerNorm.weight`, [h]);
    shapes.set(`${p}output.LayerNorm.bias`, [h]);
  }
  return shapes;
}

/** Whether a parameter is a `Linear.weight`, which we store transposed (`[in, out]`). */
function isLinearKernel(name: string): boolean {
  return (
    name.endsWith('.weight') &&
    name.startsWith('encoder.') &&
    !name.includes('LayerNorm') &&
    name !== RELATIVE_BIAS
  );
}

/** Checkpoint tensors that are not part of the encoder (pooler, pretraining heads, buffers). */
function isIgnoredTensor(name: string): boolean {
  return (
    name.startsWith('pooler.') ||
    name.startsWith('cls.') ||
    name === 'embeddings.position_ids' ||
    name.endsWith('.position_ids')
  );
}

/**
 * Map a checkpoint tensor name to ours: strip the model prefix, accept TF-era `gamma`/`beta` LayerNorm names,
 * rename to BERT's names.
 */
function canonicalName(name: string, spec: BertFamilySpec): string {
  const prefix = spec.prefixes.find((p) => name.startsWith(p));
  let n = prefix === undefined ? name : name.slice(prefix.length);
  if (n.includes('LayerNorm.'))
    n = n.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
  return spec.toCanonical ? spec.toCanonical(n) : n;
}

function describeShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

// The additive mask HF uses: the float32 minimum, so masked logits vanish after softmax.
const MASK_VALUE = -3.4028234663852886e38;

let modelCounter = 0;

/** Parameters of one encoder layer, in the order the fused layer takes them. */
const LAYER_PARAMS = [
  'attention.self.query.weight',
  'attention.self.query.bias',
  'attention.self.key.weight',
  'attention.self.key.bias',
  'attention.self.value.weight',
  'attention.self.value.bias',
  'attention.output.dense.weight',
  'attention.output.dense.bias',
  'attention.output.LayerNorm.weight',
  'attention.output.LayerNorm.bias',
  'intermediate.dense.weight',
  'intermediate.dense.bias',
  'output.dense.weight',
  'output.dense.bias',
  'output.LayerNorm.weight',
  'output.LayerNorm.bias',
] as const;

/**
 * Internal switches for tests (not exported from the package): `fusedLayers: false` runs each encoder layer
 * as composed tfjs ops with tfjs' own gradients, the reference the fused layer is tested against.
 */
export const bertInternals = { fusedLayers: true };

/** A dropout mask and multiplier for `shape` at `rate` ({@link dropoutMask}), or null when dropout is off. */
type DropoutMultiplier = (shape: number[], rate: number) => { mask: tf.Tensor; multiplier: tf.Tensor } | null;

/**
 * A BERT encoder (Hugging Face `BertModel` without the pooler) in TensorFlow.js. Numerics match HF: summed
 * word/position/token-type embeddings, post-LayerNorm blocks, exact erf GELU, additive attention mask,
 * dropout only in training.
 *
 * Linear weights are held transposed (`[in, out]`) so every projection is an untransposed matMul; names in
 * {@link BertModel.variables} are HF names, and {@link BertModel.hfTensors} gives HF layout for saving.
 *
 * @example
 * ```ts
 * const bert = BertModel.random(parseBertConfig({ model_type: 'bert', hidden_size: 32, num_attention_heads: 4,
 *   num_hidden_layers: 2, intermediate_size: 64 }), 42);
 * const ids = tf.tensor2d([[101, 7592, 102]], undefined, 'int32');
 * const hidden = bert.forward({ inputIds: ids, attentionMask: tf.onesLike(ids), tokenTypeIds: tf.zerosLike(ids) });
 * // hidden: [1, 3, 32]
 * ```
 */
export class BertModel implements TransformerEncoder {
  readonly config: BertConfig;
  readonly spec: BertFamilySpec;
  private readonly vars: Map<string, tf.Variable>;
  // Tensors that are part of the model but not trained (DistilBERT's sinusoidal positions).
  private readonly frozen: Map<string, tf.Tensor>;
  // The pooler is not used for sentence embeddings but is kept so that a saved checkpoint loads in
  // transformers' BertModel without "newly initialized weights" warnings.
  private readonly extras: Map<string, { shape: number[]; data: Float32Array }>;
  private disposed = false;

  private constructor(
    config: BertConfig,
    vars: Map<string, tf.Variable>,
    extras: Map<string, { shape: number[]; data: Float32Array }>,
    spec: BertFamilySpec,
  ) {
    this.config = config;
    this.spec = spec;
    this.extras = extras;
    this.frozen = new Map();
    if (spec.sinusoidalPositions?.(config) === true) {
      // HF computes the table at init and never trains it (requires_grad False); a checkpoint's copy is the
      // same sinusoids, so they are recomputed here rather than trusted.
      const name = 'embeddings.position_embeddings.weight';
      vars.get(name)?.dispose();
      vars.delete(name);
      const rows = config.max_position_embeddings;
      this.frozen.set(name, tf.tensor2d(sinusoids(rows, config.hidden_size), [rows, config.hidden_size]));
    }
    this.vars = vars;
  }

  /**
   * A randomly initialised model as HF initialises one: weights ~ N(0, initializer_range), the padding row of
   * the word embeddings zero, LayerNorm weight 1 and bias 0, biases 0.
   */
  static random(config: BertConfig, seed?: number, spec: BertFamilySpec = BERT_SPEC): BertModel {
    requireBackend('BertModel.random');
    checkScratchSize(config);
    const id = modelCounter++;
    const vars = new Map<string, tf.Variable>();
    let k = 0;
    for (const [name, shape] of hfShapes(config, spec)) {
      const init = tf.tidy(() => {
        if (name.includes('LayerNorm.weight')) return tf.ones(shape);
        if (name.endsWith('.bias')) return tf.zeros(shape);
        const s = seed === undefined ? undefined : seed * 7919 + k;
        let w: tf.Tensor = tf.randomNormal(shape, 0, config.initializer_range, 'float32', s);
        if (name === 'embeddings.word_embeddings.weight' && config.pad_token_id < config.vocab_size) {
          const keep = tf.oneHot([config.pad_token_id], config.vocab_size).reshape([config.vocab_size, 1]);
          w = tf.mul(w, tf.sub(1, keep));
        }
        return isLinearKernel(name) ? tf.transpose(w) : w;
      });
      k++;
      vars.set(name, tf.variable(init, true, `bert${id}/${name}`));
      init.dispose();
    }
    if (!spec.pooler) return new BertModel(config, vars, new Map(), spec);
    const h = config.hidden_size;
    const poolerSeed = seed === undefined ? undefined : seed * 7919 + k;
    const poolerWeight = tf.tidy(() =>
      tf.randomNormal([h, h], 0, config.initializer_range, 'float32', poolerSeed),
    );
    const extras = new Map([
      ['pooler.dense.weight', { shape: [h, h], data: poolerWeight.dataSync() as Float32Array }],
      ['pooler.dense.bias', { shape: [h], data: new Float32Array(h) }],
    ]);
    poolerWeight.dispose();
    return new BertModel(config, vars, extras, spec);
  }

  /**
   * A model from checkpoint tensors in HF layout, named with or without the `bert.` prefix (pooler and
   * pretraining-head tensors are ignored). Missing tensors and shape mismatches are errors naming the tensor
   * (and `file`). The tensors are copied; the caller keeps ownership of `weights`.
   */
  static fromWeights(
    config: BertConfig,
    weights: Map<string, tf.Tensor>,
    file?: string,
    spec: BertFamilySpec = BERT_SPEC,
  ): BertModel {
    const byName = new Map<string, tf.Tensor>();
    const extras = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [name, t] of weights) {
      const c = canonicalName(name, spec);
      if (!isIgnoredTensor(c)) byName.set(c, t);
      else if (c.startsWith('pooler.')) {
        extras.set(c, { shape: t.shape.slice(), data: Float32Array.from(t.dataSync() as ArrayLike<number>) });
      }
    }
    // Canonical names: every family member's layers are `encoder.layer.N.` here.
    checkLayersAgainstWeights(config, byName.keys(), file);
    const shapes = hfShapes(config, spec);
    if (spec.sinusoidalPositions?.(config) === true && !byName.has('embeddings.position_embeddings.weight')) {
      shapes.delete('embeddings.position_embeddings.weight');
    }
    const missing = [...shapes.keys()].filter((n) => !byName.has(n));
    if (missing.length > 0) {
      const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
      throw new InputFormatError(
        `missing weight${missing.length > 1 ? 's' : ''} ${missing
          .slice(0, 3)
          .map((n) => (spec.fromCanonical ? spec.fromCanonical(n) : n))
          .join(', ')}${more} (is this a ${spec.name} checkpoint?)`,
        file,
      );
    }
    for (const [name, shape] of shapes) {
      const t = byName.get(name)!;
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new InputFormatError(
          `tensor ${name} has shape ${describeShape(t.shape)} but config.json implies ${describeShape(shape)} ` +
            `(hidden_size=${config.hidden_size}, intermediate_size=${config.intermediate_size}, ` +
            `vocab_size=${config.vocab_size}); config and weights do not match`,
          file,
        );
      }
    }
    const id = modelCounter++;
    const vars = new Map<string, tf.Variable>();
    for (const name of shapes.keys()) {
      const src = byName.get(name)!;
      const value = tf.tidy(() => {
        const f = src.dtype === 'float32' ? src : tf.cast(src, 'float32');
        return isLinearKernel(name) ? tf.transpose(f) : tf.clone(f);
      });
      vars.set(name, tf.variable(value, true, `bert${id}/${name}`));
      value.dispose();
    }
    return new BertModel(config, vars, extras, spec);
  }

  /** The longest input the position table holds (less `pad_token_id + 1` for RoBERTa-style positions). */
  get maxSequenceLength(): number {
    return bertFamilyMaxLength(this.config, this.spec);
  }

  /** The config.json to save: HF field names and `architectures`. */
  hfConfig(): Record<string, unknown> {
    const fields = this.spec.hfConfig ? this.spec.hfConfig(this.config) : { ...this.config };
    return { architectures: [this.spec.architecture], ...fields };
  }

  /** Hidden size (the width of token embeddings). */
  get hiddenSize(): number {
    return this.config.hidden_size;
  }

  /**
   * Trainable parameters by HF name (without `bert.`). Linear weights are `[in, out]`, the transpose of HF's
   * layout; use {@link BertModel.hfTensors} for HF layout.
   */
  variables(): Map<string, tf.Variable> {
    this.checkAlive();
    return new Map(this.vars);
  }

  /**
   * Parameters as HF-layout float32 arrays (for checkpoint writing), keyed by HF name without `bert.`,
   * plus the pooler weights of the checkpoint (or freshly initialised ones), which encoding does not use.
   */
  hfTensors(): Map<string, HfTensor> {
    this.checkAlive();
    const out = new Map<string, HfTensor>(this.extras);
    const rename = this.spec.fromCanonical ?? ((n: string) => n);
    for (const [name, v] of [...this.vars, ...this.frozen]) {
      const t = isLinearKernel(name) ? tf.transpose(v) : v;
      out.set(rename(name), { shape: t.shape.slice(), data: t.dataSync() as Float32Array });
      if (t !== v) t.dispose();
    }
    return out;
  }

  /** Last hidden state `[batch, seq, hidden]`. */
  forward(inputs: BertInputs, options: BertForwardOptions = {}): tf.Tensor3D {
    this.checkAlive();
    const { inputIds, attentionMask, tokenTypeIds } = inputs;
    const positionIds = this.validateInputs(inputs);
    const cfg = this.config;
    const [batch, seq] = inputIds.shape;
    const hidden = cfg.hidden_size;
    const training = options.training === true;
    // Dropout masks are numbered in forward order: the same dropoutSeed gives the same masks.
    let dropoutCount = 0;
    const nextSeed = (): string | undefined => {
      const seed = options.dropoutSeed === undefined ? undefined : `${options.dropoutSeed}:${dropoutCount}`;
      dropoutCount++;
      return seed;
    };
    const dropout = (x: tf.Tensor, rate: number): tf.Tensor => {
      if (!training || rate === 0) return x;
      // The tape keeps a bool mask instead of tf.dropout's float32 multiplier.
      return dropoutLayer(x, rate, nextSeed());
    };
    const multiplier: DropoutMultiplier = (shape, rate) =>
      !training || rate === 0 ? null : dropoutMask(shape, rate, nextSeed());
    const v = (name: string): tf.Tensor => this.vars.get(name) ?? this.frozen.get(name)!;

    return tf.tidy(() => {
      const ids = tf.reshape(tf.cast(inputIds, 'int32'), [-1]) as tf.Tensor1D;
      const positions = (
        positionIds === undefined
          ? tf.tile(tf.range(0, seq, 1, 'int32'), [batch])
          : tf.tensor1d(positionIds, 'int32')
      ) as tf.Tensor1D;
      const parts = [
        embeddingLookup(v('embeddings.word_embeddings.weight') as tf.Tensor2D, ids),
        embeddingLookup(v('embeddings.position_embeddings.weight') as tf.Tensor2D, positions),
      ];
      if (this.spec.tokenTypes) {
        const types =
          tokenTypeIds === undefined
            ? (tf.zeros([batch * seq], 'int32') as tf.Tensor1D)
            : (tf.reshape(tf.cast(tokenTypeIds, 'int32'), [-1]) as tf.Tensor1D);
        parts.push(embeddingLookup(v('embeddings.token_type_embeddings.weight') as tf.Tensor2D, types));
      }
      const emb = tf.addN(parts) as tf.Tensor2D;
      let x = layerNorm(
        emb,
        v('embeddings.LayerNorm.weight') as tf.Tensor1D,
        v('embeddings.LayerNorm.bias') as tf.Tensor1D,
        cfg.layer_norm_eps,
      );
      x = dropout(x, cfg.hidden_dropout_prob) as tf.Tensor2D;

      // [batch, 1, 1, seq]: broadcast over heads and query positions.
      const maskAdd = tf.reshape(tf.mul(tf.sub(1, tf.cast(attentionMask, 'float32')), MASK_VALUE), [
        batch,
        1,
        1,
        seq,
      ]);
      const posBias = this.relativeBias(seq);

      for (let l = 0; l < cfg.num_hidden_layers; l++) {
        // One tidy per layer: in inference each layer's attention scores ([batch, heads, seq, seq]) are freed
        // before the next layer runs; under a gradient tape the tensors backprop needs are kept anyway.
        const input = x;
        x = tf.tidy(() =>
          bertInternals.fusedLayers
            ? this.fusedLayer(input, l, maskAdd, multiplier, batch, seq, posBias)
            : this.layer(input, l, maskAdd, dropout, batch, seq, posBias),
        );
      }
      return tf.reshape(x, [batch, seq, hidden]) as tf.Tensor3D;
    });
  }

  /**
   * MPNet's attention bias `[1, heads, seq, seq]`, shared by every layer: the bias table's row for the bucket
   * of `key - query` ({@link relativePositionBucket}); undefined for architectures without one.
   */
  private relativeBias(seq: number): tf.Tensor | undefined {
    const table = this.vars.get(RELATIVE_BIAS);
    if (table === undefined) return undefined;
    const [buckets, heads] = table.shape;
    const ids = new Int32Array(seq * seq);
    for (let q = 0; q < seq; q++)
      for (let k = 0; k < seq; k++) ids[q * seq + k] = relativePositionBucket(k - q, buckets);
    const rows = embeddingLookup(table as tf.Tensor2D, tf.tensor1d(ids, 'int32'));
    return tf.reshape(tf.transpose(tf.reshape(rows, [seq, seq, heads]), [2, 0, 1]), [1, heads, seq, seq]);
  }

  /**
   * One post-LN transformer block on `[batch*seq, hidden]` rows as a single tape node with a hand-written
   * backward. tfjs keeps every intermediate gradient until a whole backward pass ends, and every saved
   * input of every op: the composed block ({@link BertModel.layer}) held ~8x the activations the backward
   * needs. This node saves only the block input, the projected q/k/v, the attention probabilities, the
   * attention context, the LayerNorm rows and 1/std, the FFN pre-activation and activation, and the dropout
   * masks as `bool`; its backward frees its temporaries before the next layer's runs. The forward runs
   * exactly the ops of {@link BertModel.layer} in the same order (same values, same dropout masks).
   */
  private fusedLayer(
    x: tf.Tensor2D,
    l: number,
    maskAdd: tf.Tensor,
    multiplier: DropoutMultiplier,
    batch: number,
    seq: number,
    posBias?: tf.Tensor,
  ): tf.Tensor2D {
    const cfg = this.config;
    const hidden = cfg.hidden_size;
    const heads = cfg.num_attention_heads;
    const headDim = hidden / heads;
    const bh = batch * heads;
    const rows = batch * seq;
    const scale = 1 / Math.sqrt(headDim);
    const eps = cfg.layer_norm_eps;
    const act = cfg.hidden_act;
    const probsRate = cfg.attention_probs_dropout_prob;
    const hiddenRate = cfg.hidden_dropout_prob;
    const params = LAYER_PARAMS.map((name) => this.vars.get(`encoder.layer.${l}.${name}`)!);
    const split = (t: tf.Tensor2D, perm: number[], shape: [number, number, number]): tf.Tensor3D =>
      tf.reshape(tf.transpose(tf.reshape(t, [batch, seq, heads, headDim]), perm), shape) as tf.Tensor3D;
    const merge = (t: tf.Tensor, shape: number[], perm: number[]): tf.Tensor2D =>
      tf.reshape(tf.transpose(tf.reshape(t, shape), perm), [rows, hidden]) as tf.Tensor2D;
    // Which dropouts ran: their masks are saved only then (known once the forward has run).
    let masked: [boolean, boolean, boolean] = [false, false, false];

    const op = tf.customGrad((...args: unknown[]) => {
      const save = args.pop() as (tensors: tf.Tensor[]) => void;
      const [xIn, ...rest] = args as tf.Tensor[];
      const w = rest.slice(0, LAYER_PARAMS.length);
      const bias = rest[LAYER_PARAMS.length] as tf.Tensor | undefined;
      const xt = xIn as tf.Tensor2D;
      const [wq, bq, wk, bk, wv, bv, wo, bo, g1, b1, wi, bi, wo2, bo2, g2, b2] = w as (tf.Tensor2D &
        tf.Tensor1D)[];
      // Forward: the ops of layer(), in order. Keys go to [batch*heads, headDim, seq] so the score matMul
      // needs no transpose flag (slow on wasm); scaling queries (not scores) needs seq/headDim fewer multiplies.
      const q3 = split(
        tf.mul(linearForward(xt, wq, bq), scale) as tf.Tensor2D,
        [0, 2, 1, 3],
        [bh, seq, headDim],
      );
      const k3 = split(linearForward(xt, wk, bk), [0, 2, 3, 1], [bh, headDim, seq]);
      const v3 = split(linearForward(xt, wv, bv), [0, 2, 1, 3], [bh, seq, headDim]);
      const raw = tf.reshape(tf.matMul(q3, k3), [batch, heads, seq, seq]);
      const scores = tf.add(bias === undefined ? raw : tf.add(raw, bias), maskAdd);
      const probs = tf.softmax(scores);
      const m1 = multiplier(probs.shape, probsRate);
      const dropped = m1 === null ? probs : tf.mul(probs, m1.multiplier);
      const ctx3 = tf.matMul(tf.reshape(dropped, [bh, seq, seq]) as tf.Tensor3D, v3);
      const ctx = merge(ctx3, [batch, heads, seq, headDim], [0, 2, 1, 3]);
      const attn = linearForward(ctx, wo, bo);
      const m2 = multiplier(attn.shape, hiddenRate);
      const ln1 = layerNormForward(
        tf.add(m2 === null ? attn : tf.mul(attn, m2.multiplier), xt) as tf.Tensor2D,
        g1,
        b1,
        eps,
      );
      const pre = linearForward(ln1.value, wi, bi);
      const activation = activationForwardSaving(pre, act);
      const inter = activation.value as tf.Tensor2D;
      const out = linearForward(inter, wo2, bo2);
      const m3 = multiplier(out.shape, hiddenRate);
      const ln2 = layerNormForward(
        tf.add(m3 === null ? out : tf.mul(out, m3.multiplier), ln1.value) as tf.Tensor2D,
        g2,
        b2,
        eps,
      );
      masked = [m1 !== null, m2 !== null, m3 !== null];
      const masks = [m1, m2, m3].filter((m) => m !== null).map((m) => m.mask);
      save([
        xt,
        q3,
        k3,
        v3,
        probs,
        ctx,
        ln1.normed,
        ln1.rstd,
        ln1.value,
        pre,
        activation.saved,
        ln2.normed,
        ln2.rstd,
        ...w,
        ...masks,
      ]);
      return {
        value: ln2.value,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
          tf.tidy(() => {
            const [sx, sq3, sk3, sv3, sProbs, sCtx, n1, r1, x1, sPre, sAct, n2, r2] = saved as tf.Tensor2D[];
            const sw = saved.slice(13, 13 + LAYER_PARAMS.length) as (tf.Tensor2D & tf.Tensor1D)[];
            const [swq, , swk, , swv, , swo, , sg1, , swi, , swo2, , sg2] = sw;
            const savedMasks = saved.slice(13 + LAYER_PARAMS.length);
            const rates = [probsRate, hiddenRate, hiddenRate];
            const mults = masked.map((on, i) =>
              on ? multiplierFromMask(savedMasks[masked.slice(0, i).filter(Boolean).length], rates[i]) : null,
            );
            const undrop = (t: tf.Tensor, m: tf.Tensor | null): tf.Tensor => (m === null ? t : tf.mul(t, m));
            // FFN half.
            const [dh2, dg2, db2] = layerNormBackward(dy as tf.Tensor2D, n2, r2, sg2);
            const sInter = activationValueFromSaved(sPre, sAct, act) as tf.Tensor2D;
            const [dInter, dWo2, dBo2] = linearBackward(undrop(dh2, mults[2]) as tf.Tensor2D, sInter, swo2);
            const dPre = activationBackwardFromSaved(dInter, sPre, sAct, act) as tf.Tensor2D;
            const [dx1FromFfn, dWi, dBi] = linearBackward(dPre, x1, swi);
            const [dh1, dg1, db1] = layerNormBackward(tf.add(dh2, dx1FromFfn) as tf.Tensor2D, n1, r1, sg1);
            // Attention half.
            const [dCtx, dWo, dBo] = linearBackward(undrop(dh1, mults[1]) as tf.Tensor2D, sCtx, swo);
            const dCtx3 = split(dCtx, [0, 2, 1, 3], [bh, seq, headDim]);
            const dropped3 = tf.reshape(undrop(sProbs, mults[0]), [bh, seq, seq]) as tf.Tensor3D;
            const dv3 = tf.matMul(dropped3, dCtx3, true, false);
            const dProbs = undrop(tf.reshape(tf.matMul(dCtx3, sv3, false, true), sProbs.shape), mults[0]);
            // Softmax backward as tfjs computes it: y (dy - sum(dy y)).
            const dyTimesY = tf.mul(dProbs, sProbs);
            const dScores = tf.reshape(tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, -1, true), sProbs)), [
              bh,
              seq,
              seq,
            ]) as tf.Tensor3D;
            const dq3 = tf.matMul(dScores, sk3, false, true);
            const dk3 = tf.matMul(sq3, dScores, true, false);
            const dq = tf.mul(merge(dq3, [batch, heads, seq, headDim], [0, 2, 1, 3]), scale) as tf.Tensor2D;
            const dk = merge(dk3, [batch, heads, headDim, seq], [0, 3, 1, 2]);
            const dv = merge(dv3, [batch, heads, seq, headDim], [0, 2, 1, 3]);
            const sxT = tf.transpose(sx) as tf.Tensor2D;
            const [dxq, dWq, dBq] = linearBackward(dq, sx, swq, sxT);
            const [dxk, dWk, dBk] = linearBackward(dk, sx, swk, sxT);
            const [dxv, dWv, dBv] = linearBackward(dv, sx, swv, sxT);
            const dx = tf.addN([dh1, dxq, dxk, dxv]);
            const grads = [
              dx,
              dWq,
              dBq,
              dWk,
              dBk,
              dWv,
              dBv,
              dWo,
              dBo,
              dg1,
              db1,
              dWi,
              dBi,
              dWo2,
              dBo2,
              dg2,
              db2,
            ];
            // The bias is shared by the batch: its gradient sums the score gradients over it.
            if (posBias !== undefined)
              grads.push(tf.sum(tf.reshape(dScores, [batch, heads, seq, seq]), 0, true));
            return grads;
          }),
      };
    });
    return (posBias === undefined ? op(x, ...params) : op(x, ...params, posBias)) as tf.Tensor2D;
  }

  /** One post-LN transformer block on `[batch*seq, hidden]` rows, as composed ops (the tests' reference). */
  private layer(
    x: tf.Tensor2D,
    l: number,
    maskAdd: tf.Tensor,
    dropout: (x: tf.Tensor, rate: number) => tf.Tensor,
    batch: number,
    seq: number,
    posBias?: tf.Tensor,
  ): tf.Tensor2D {
    const cfg = this.config;
    const hidden = cfg.hidden_size;
    const heads = cfg.num_attention_heads;
    const headDim = hidden / heads;
    const p = `encoder.layer.${l}.`;
    const v = (name: string): tf.Variable => this.vars.get(`${p}${name}`)!;
    const dense = (input: tf.Tensor2D, name: string): tf.Tensor2D =>
      linear(input, v(`${name}.weight`) as tf.Tensor2D, v(`${name}.bias`) as tf.Tensor1D);
    const split = (t: tf.Tensor2D, perm: number[], shape: [number, number, number]): tf.Tensor3D =>
      tf.reshape(tf.transpose(tf.reshape(t, [batch, seq, heads, headDim]), perm), shape) as tf.Tensor3D;
    // Scaling queries (not scores) by 1/sqrt(d) is the same product with seq/headDim times fewer multiplies.
    // scaleBy rather than tf.mul: tf.mul would keep the unscaled [tokens, hidden] queries for its gradient.
    const q = split(
      scaleBy(dense(x, 'attention.self.query'), 1 / Math.sqrt(headDim)),
      [0, 2, 1, 3],
      [batch * heads, seq, headDim],
    );
    // Keys go to [batch*heads, headDim, seq] so the score matMul needs no transpose flag (slow on wasm).
    const k = split(dense(x, 'attention.self.key'), [0, 2, 3, 1], [batch * heads, headDim, seq]);
    const val = split(dense(x, 'attention.self.value'), [0, 2, 1, 3], [batch * heads, seq, headDim]);
    const raw = tf.reshape(tf.matMul(q, k), [batch, heads, seq, seq]);
    const scores = tf.add(posBias === undefined ? raw : tf.add(raw, posBias), maskAdd);
    const probs = dropout(tf.softmax(scores), cfg.attention_probs_dropout_prob);
    const ctx3 = tf.matMul(tf.reshape(probs, [batch * heads, seq, seq]) as tf.Tensor3D, val);
    const ctx = tf.reshape(tf.transpose(tf.reshape(ctx3, [batch, heads, seq, headDim]), [0, 2, 1, 3]), [
      batch * seq,
      hidden,
    ]) as tf.Tensor2D;
    const attnOut = dropout(dense(ctx, 'attention.output.dense'), cfg.hidden_dropout_prob);
    const x1 = layerNorm(
      tf.add(attnOut, x) as tf.Tensor2D,
      v('attention.output.LayerNorm.weight') as tf.Tensor1D,
      v('attention.output.LayerNorm.bias') as tf.Tensor1D,
      cfg.layer_norm_eps,
    );
    const inter = activate(dense(x1, 'intermediate.dense'), cfg.hidden_act) as tf.Tensor2D;
    const out = dropout(dense(inter, 'output.dense'), cfg.hidden_dropout_prob);
    return layerNorm(
      tf.add(out, x1) as tf.Tensor2D,
      v('output.LayerNorm.weight') as tf.Tensor1D,
      v('output.LayerNorm.bias') as tf.Tensor1D,
      cfg.layer_norm_eps,
    );
  }

  /** Free the parameters. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    for (const t of this.frozen.values()) t.dispose();
    this.frozen.clear();
  }

  private checkAlive(): void {
    if (this.disposed) throw new ArgumentError('model', 'this BertModel has been disposed');
  }

  /** Reject inputs tfjs would silently mis-handle (out-of-range gather indices read garbage on some backends). */
  private validateInputs({ inputIds, attentionMask, tokenTypeIds }: BertInputs): Int32Array | undefined {
    const cfg = this.config;
    const given: [string, tf.Tensor][] = [
      ['inputIds', inputIds],
      ['attentionMask', attentionMask],
    ];
    if (tokenTypeIds !== undefined) given.push(['tokenTypeIds', tokenTypeIds]);
    for (const [name, t] of given) {
      if (t.rank !== 2)
        throw new ArgumentError(name, `expected a 2-D [batch, seq] tensor, got rank ${t.rank}`);
      if (t.shape[0] !== inputIds.shape[0] || t.shape[1] !== inputIds.shape[1]) {
        throw new ArgumentError(
          name,
          `shape ${describeShape(t.shape)} differs from inputIds ${describeShape(inputIds.shape)}`,
        );
      }
    }
    const [batch, seq] = inputIds.shape;
    if (batch === 0 || seq === 0) throw new ArgumentError('inputIds', 'empty batch or sequence');
    if (seq > this.maxSequenceLength) {
      const offset = this.spec.positions === 'padding-offset' ? ` - pad_token_id - 1` : '';
      throw new ArgumentError(
        'inputIds',
        `sequence length ${seq} exceeds max_position_embeddings ${cfg.max_position_embeddings}${offset} (${this.maxSequenceLength})`,
      );
    }
    const checkRange = (name: string, t: tf.Tensor, limit: number, field: string): void => {
      const data = t.dataSync();
      for (let i = 0; i < data.length; i++) {
        const x = data[i];
        if (!(x >= 0 && x < limit) || !Number.isInteger(x)) {
          throw new ArgumentError(name, `id ${x} at position ${i} is outside [0, ${limit}) (${field})`);
        }
      }
    };
    checkRange('inputIds', inputIds, cfg.vocab_size, 'vocab_size');
    if (this.spec.tokenTypes && tokenTypeIds !== undefined) {
      checkRange('tokenTypeIds', tokenTypeIds, cfg.type_vocab_size, 'type_vocab_size');
    }
    if (this.spec.positions === 'absolute') return undefined;
    // HF create_position_ids_from_input_ids: pad tokens sit at pad_token_id, the others count up from it.
    const ids = inputIds.dataSync();
    const pad = cfg.pad_token_id;
    const out = new Int32Array(ids.length);
    for (let b = 0; b < batch; b++) {
      let count = 0;
      for (let i = b * seq; i < (b + 1) * seq; i++) {
        if (ids[i] !== pad) count++;
        out[i] = ids[i] !== pad ? pad + count : pad;
      }
    }
    return out;
  }
}
