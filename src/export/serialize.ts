import { EXTERNAL, IR_VERSION, onnxType } from './onnx-schema.js';
import type { GraphMessage } from './graph-builder.js';

/**
 * ModelProto assembly and encoding, with ONNX's external-data layout for models past protobuf's 2 GiB
 * message limit: every large initializer's bytes go to one side file (`location`), each tensor naming its
 * `offset` and `length` there, as `onnx.save_model(..., save_as_external_data=True)` writes them.
 */

/** Protobuf messages cannot exceed 2 GiB; past this many initializer bytes, weights go to external data. */
export const EXTERNAL_DATA_THRESHOLD = 2 ** 31 - 2 ** 26;

/** Initializers smaller than this stay inside the model file even with external data (ONNX's default). */
const SMALL_TENSOR_BYTES = 1024;

/** Offsets in the external file are aligned to this, so a runtime may map tensors page-aligned. */
const ALIGNMENT = 4096;

/** What the model declares besides its graph. */
export interface ModelInfo {
  opset: number;
  /** ONNX IR version; default {@link IR_VERSION} (opset 17's). */
  irVersion?: number;
  producerVersion: string;
  /** `metadata_props` (e.g. the pooling mode), strings only. */
  metadata?: Record<string, string>;
  docString?: string;
}

/** An encoded model: the ModelProto bytes, and the external data file's chunks when there is one. */
export interface SerializedModel {
  model: Uint8Array;
  /** Chunks of the external data file, in order (empty without external data). */
  externalData: Uint8Array[];
  /** Bytes of the external data file. */
  externalBytes: number;
}

/** Options of {@link serializeModel}. */
export interface SerializeOptions {
  /**
   * The external data file's name, relative to the model file (e.g. `model.onnx_data`); without it the
   * whole model must fit one protobuf message.
   */
  externalDataLocation?: string;
  /** Initializer bytes past which weights go to external data; default {@link EXTERNAL_DATA_THRESHOLD}. */
  externalDataThreshold?: number;
}

/** Total raw bytes of a graph's initializers. */
export function initializerBytes(graph: GraphMessage): number {
  return graph.initializer.reduce((sum, t) => sum + (t.raw_data?.byteLength ?? 0), 0);
}

/**
 * Encode `graph` as an ONNX ModelProto (IR 8, default domain at `info.opset`). With
 * `externalDataLocation` and more initializer bytes than the threshold, initializers of 1 KiB and more move
 * to external data. Returns `undefined` when the model needs external data but no location was given.
 *
 * @example
 * ```ts
 * const { model } = serializeModel(g.build(), { opset: 17, producerVersion: '1.0.0' })!;
 * ```
 */
export function serializeModel(
  graph: GraphMessage,
  info: ModelInfo,
  options: SerializeOptions = {},
): SerializedModel | undefined {
  const threshold = options.externalDataThreshold ?? EXTERNAL_DATA_THRESHOLD;
  const externalData: Uint8Array[] = [];
  let offset = 0;
  let initializer = graph.initializer;
  if (initializerBytes(graph) > threshold) {
    if (options.externalDataLocation === undefined) return undefined;
    const location = options.externalDataLocation;
    initializer = graph.initializer.map((t) => {
      const raw = t.raw_data;
      if (raw === undefined || raw.byteLength < SMALL_TENSOR_BYTES) return t;
      const pad = (ALIGNMENT - (offset % ALIGNMENT)) % ALIGNMENT;
      if (pad > 0) externalData.push(new Uint8Array(pad));
      offset += pad;
      externalData.push(raw);
      const entry = {
        name: t.name,
        dims: t.dims,
        data_type: t.data_type,
        ...(t.doc_string === undefined ? {} : { doc_string: t.doc_string }),
        data_location: EXTERNAL,
        external_data: [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(raw.byteLength) },
        ],
      };
      offset += raw.byteLength;
      return entry;
    });
  }
  const message = {
    ir_version: info.irVersion ?? IR_VERSION,
    opset_import: [{ domain: '', version: info.opset }],
    producer_name: 'dense-retrieval',
    producer_version: info.producerVersion,
    ...(info.docString === undefined ? {} : { doc_string: info.docString }),
    graph: { ...graph, initializer },
    metadata_props: Object.entries(info.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  const model = onnxType('ModelProto').encode(message).finish();
  return { model, externalData, externalBytes: offset };
}
