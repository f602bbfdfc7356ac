import type { TransformerEncoder } from '../../models/architectures/encoder.js';
import type { Blocks } from '../blocks.js';

/** The int64 `[batch, sequence_length]` graph inputs of an exported encoder. */
export interface GraphInputs {
  inputIds: string;
  attentionMask: string;
  /** Present when the architecture has token types ({@link ArchitectureExport.tokenTypes}). */
  tokenTypeIds?: string;
}

/**
 * How one architecture of the registry (`models/architectures/registry.ts`) is written as an ONNX graph.
 * The forward pass emitted must compute what the architecture's tfjs `forward` computes (inference mode).
 */
export interface ArchitectureExport {
  /** Whether the graph takes `token_type_ids` (the architecture has a token-type embedding table). */
  tokenTypes(model: TransformerEncoder): boolean;
  /**
   * Emit the encoder; returns the value of the last hidden state `[batch, sequence_length, hidden]`.
   *
   * @throws {ArgumentError} when `model` is not an instance of the architecture's class.
   */
  build(model: TransformerEncoder, b: Blocks, inputs: GraphInputs): string;
}
