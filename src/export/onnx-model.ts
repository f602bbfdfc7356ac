import { ArgumentError } from '../errors.js';
import type { SentenceEncoder } from '../models/sentence-encoder.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { packageVersion } from '../util/package.js';
import { exporterFor } from './architectures/registry.js';
import { Blocks } from './blocks.js';
import { GraphBuilder } from './graph-builder.js';
import type { GraphMessage } from './graph-builder.js';
import { DataType } from './onnx-schema.js';
import { denseGraph, normalizeGraph, poolGraph } from './sentence-head.js';
import { quantizeGraph } from './quantize.js';
import { closingTokensOf, restoreClosingTokens } from './truncation.js';
import { serializeModel } from './serialize.js';
import type { ModelInfo, SerializedModel, SerializeOptions } from './serialize.js';

/** Options of {@link buildOnnxModel} and `exportOnnx`. */
export interface OnnxModelOptions {
  /**
   * `q8`: dynamic int8 quantization of the MatMul weights (per output column, symmetric), as onnxruntime's
   * `quantize_dynamic(per_channel=True)` writes it: `DynamicQuantizeLinear` on the activations,
   * `MatMulInteger`, rescale. Default: float32 weights.
   */
  quantize?: 'q8';
  /** ONNX opset of the default domain, 14 to 22; default 17 (the first with `LayerNormalization`). */
  opset?: number;
}

export const ONNX_MODEL_KEYS = optionKeys<OnnxModelOptions>({ quantize: true, opset: true });

/** The opset written when none is asked for. */
export const DEFAULT_OPSET = 17;
/** Opsets the exporter writes: >= 14 (Softmax on one axis, Reduce/Unsqueeze signatures of 13) up to 22. */
export const MIN_OPSET = 14;
export const MAX_OPSET = 22;

/** ONNX IR version of each opset (ONNX's versioning table); a runtime refuses an IR newer than it knows. */
const IR_OF_OPSET: Record<number, number> = {
  14: 7,
  15: 8,
  16: 8,
  17: 8,
  18: 8,
  19: 9,
  20: 9,
  21: 10,
  22: 10,
};

/** A graph ready to serialize. */
export interface OnnxGraph {
  graph: GraphMessage;
  info: ModelInfo;
  /** Graph input names, in order. */
  inputNames: string[];
}

/** Validate {@link OnnxModelOptions}; returns the opset. */
export function checkOnnxOptions(options: OnnxModelOptions): number {
  checkOptionKeys('exportOnnx', options, ONNX_MODEL_KEYS);
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new ArgumentError(
      'opset',
      `must be an integer in [${MIN_OPSET}, ${MAX_OPSET}], got ${String(opset)}`,
    );
  }
  if (options.quantize !== undefined && options.quantize !== 'q8') {
    throw new ArgumentError('quantize', `must be 'q8' or left out, got ${JSON.stringify(options.quantize)}`);
  }
  return opset;
}

/** How a graph is built beyond {@link OnnxModelOptions}. */
export interface GraphBuildOptions {
  /**
   * Restore the tokenizer's closing special tokens on rows cut at `max_seq_length` (see `truncation.ts`):
   * on for files other runtimes load (`exportOnnx`), off for our own engine, which tokenizes itself and may
   * be asked for a `maxLength` other than the model's.
   */
  restoreClosingTokens?: boolean;
}

/**
 * The ONNX graph of `encoder`: inputs `input_ids`, `attention_mask` and (for architectures with token types)
 * `token_type_ids`, int64 `[batch_size, sequence_length]`; outputs `last_hidden_state` `[batch_size,
 * sequence_length, hidden]` and `sentence_embedding` `[batch_size, dim]` (Pooling, Dense modules, Normalize).
 */
export function buildOnnxGraph(
  encoder: SentenceEncoder,
  options: OnnxModelOptions = {},
  build: GraphBuildOptions = {},
): OnnxGraph {
  const opset = checkOnnxOptions(options);
  const model = encoder.model;
  const exporter = exporterFor(model.config.model_type);
  const g = new GraphBuilder(`${model.config.model_type}-sentence-encoder`);
  const b = new Blocks(g, opset);
  const axes = ['batch_size', 'sequence_length'];
  const inputIds = g.input('input_ids', DataType.INT64, axes);
  const attentionMask = g.input('attention_mask', DataType.INT64, axes);
  const tokenTypeIds = exporter.tokenTypes(model)
    ? g.input('token_type_ids', DataType.INT64, axes)
    : undefined;
  let tokens = { ids: inputIds, types: tokenTypeIds };
  const closing = build.restoreClosingTokens === true ? closingTokensOf(encoder) : undefined;
  if (closing !== undefined) tokens = restoreClosingTokens(b, inputIds, attentionMask, tokenTypeIds, closing);
  const hidden = exporter.build(model, b, {
    inputIds: tokens.ids,
    attentionMask,
    tokenTypeIds: tokens.types,
  });
  g.output(hidden, 'last_hidden_state', DataType.FLOAT, [...axes, model.hiddenSize]);
  let sentence = poolGraph(b, hidden, attentionMask, encoder.pooling);
  for (const [i, d] of encoder.dense.entries()) sentence = denseGraph(b, sentence, d, i);
  if (encoder.normalize) sentence = normalizeGraph(b, sentence);
  g.output(sentence, 'sentence_embedding', DataType.FLOAT, ['batch_size', encoder.dim]);
  const built: OnnxGraph = {
    graph: g.build(),
    inputNames:
      tokenTypeIds === undefined
        ? ['input_ids', 'attention_mask']
        : ['input_ids', 'attention_mask', 'token_type_ids'],
    info: {
      opset,
      irVersion: IR_OF_OPSET[opset],
      producerVersion: packageVersion(),
      metadata: {
        model_type: model.config.model_type,
        pooling_mode: encoder.pooling,
        normalize: String(encoder.normalize),
        dense_modules: String(encoder.dense.length),
        max_seq_length: String(encoder.maxSeqLength),
        quantization: 'none',
        ...(closing === undefined ? {} : { restores_closing_tokens: closing.suffix.join(',') }),
      },
    },
  };
  return options.quantize === 'q8' ? quantizeOnnxGraph(built) : built;
}

/** The q8 version of a float graph (see `quantizeGraph`); the float graph is left as it is. */
export function quantizeOnnxGraph(built: OnnxGraph): OnnxGraph {
  return {
    ...built,
    graph: quantizeGraph(built.graph),
    info: { ...built.info, metadata: { ...built.info.metadata, quantization: 'q8' } },
  };
}

/** Serialize an {@link OnnxGraph} (see `serializeModel`). */
export function serializeOnnxGraph(
  built: OnnxGraph,
  options: SerializeOptions = {},
): SerializedModel | undefined {
  return serializeModel(built.graph, built.info, options);
}

/**
 * `encoder` as a serialized ONNX `ModelProto`, in memory: the bytes an `onnxruntime` session is created from
 * (`InferenceSession.create(bytes)`). Inputs `input_ids`, `attention_mask` and, for BERT and RoBERTa /
 * XLM-RoBERTa, `token_type_ids` (int64, dynamic `batch_size` and `sequence_length`); outputs
 * `last_hidden_state` `[batch_size, sequence_length, hidden]` and `sentence_embedding` `[batch_size, dim]`,
 * the model's Pooling (every sentence-transformers mode), Dense modules and Normalize applied. Prompts are the
 * caller's to prepend; pooling covers every token of the attention mask (an `include_prompt: false` model's
 * prompt tokens included).
 *
 * @throws {ArgumentError} for bad options, an architecture or a Dense activation without an exporter, or a
 *   model too large for one protobuf message (2 GiB: use `exportOnnx`, which writes external data).
 * @example
 * ```ts
 * import * as ort from 'onnxruntime-node';
 * const session = await ort.InferenceSession.create(buildOnnxModel(encoder));
 * ```
 */
export function buildOnnxModel(encoder: SentenceEncoder, options: OnnxModelOptions = {}): Uint8Array {
  const serialized = serializeOnnxGraph(buildOnnxGraph(encoder, options));
  if (serialized === undefined) {
    throw new ArgumentError(
      'encoder',
      'the model is larger than the 2 GiB a single ONNX protobuf can hold; use exportOnnx(), which writes its weights as external data',
    );
  }
  return serialized.model;
}
