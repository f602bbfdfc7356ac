import { AttributeType, DataType } from './onnx-schema.js';
import type { GraphMessage, NodeMessage, TensorMessage } from './graph-builder.js';

/**
 * Dynamic int8 weight quantization of an ONNX graph, the scheme of onnxruntime's `quantize_dynamic` with
 * `per_channel=True` and int8 weights, in standard ONNX ops only (no `com.microsoft` domain), so any runtime
 * and transformers.js' `model_quantized.onnx` loader run it:
 *
 * - `MatMul(x, W)` with a float initializer `W` `[K, N]`: `W` is stored as int8 with one symmetric scale per
 *   output column, `s_n = max_k |W_kn| / 127`, `q_kn = round(W_kn / s_n)`; at run time
 *   `(x_q, s_x, z_x) = DynamicQuantizeLinear(x)` (uint8, per tensor), `y = float(MatMulInteger(x_q, q, z_x, 0))
 *   * (s_x s_n)`. One `DynamicQuantizeLinear` serves every MatMul of the same input (query, key, value).
 * - `Gather(table, ids)` of a float initializer `[rows, dim]` (embedding tables): int8 rows with one scale per
 *   row, dequantized after the gather: `Cast(Gather(q, ids)) * Gather(s, ids)`.
 *
 * Written here rather than by running onnxruntime's Python quantizer: exporting must not need Python, and the
 * scheme is a few lines given the graph we build.
 */

const MIN_ELEMENTS = 256;

interface Quantized {
  q: Int8Array;
  scales: Float32Array;
}

/** Symmetric int8 codes of a row-major `[rows, cols]` matrix, one scale per column (`byColumn`) or per row. */
export function quantizeSymmetric(
  data: Float32Array,
  rows: number,
  cols: number,
  byColumn: boolean,
): Quantized {
  const groups = byColumn ? cols : rows;
  const absMax = new Float32Array(groups);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const gi = byColumn ? c : r;
      const v = Math.abs(data[r * cols + c]);
      if (v > absMax[gi]) absMax[gi] = v;
    }
  }
  const scales = new Float32Array(groups);
  for (let i = 0; i < groups; i++) scales[i] = absMax[i] > 0 ? absMax[i] / 127 : 1;
  const q = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const s = scales[byColumn ? c : r];
      q[r * cols + c] = Math.max(-127, Math.min(127, Math.round(data[r * cols + c] / s)));
    }
  }
  return { q, scales };
}

function floatData(t: TensorMessage): Float32Array {
  const raw = t.raw_data!;
  const copy = raw.slice(); // aligned copy
  return new Float32Array(copy.buffer, 0, raw.byteLength / 4);
}

function tensor(
  name: string,
  data: Int8Array | Uint8Array | Float32Array,
  dims: number[],
  type: number,
): TensorMessage {
  return {
    name,
    dims,
    data_type: type as TensorMessage['data_type'],
    raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  };
}

function node(opType: string, inputs: string[], outputs: string[], name: string, to?: number): NodeMessage {
  return {
    input: inputs,
    output: outputs,
    name,
    op_type: opType,
    domain: '',
    attribute: to === undefined ? [] : [{ name: 'to', type: AttributeType.INT, i: to }],
  };
}

/**
 * `graph` with its large MatMul weights and embedding tables in int8 (see the module comment). The float
 * weights that were quantized are dropped; everything else is kept.
 *
 * @example
 * ```ts
 * const q8 = quantizeGraph(buildOnnxGraph(encoder).graph);
 * ```
 */
export function quantizeGraph(graph: GraphMessage): GraphMessage {
  const inits = new Map(graph.initializer.map((t) => [t.name, t]));
  const isWeight = (name: string): TensorMessage | undefined => {
    const t = inits.get(name);
    if (
      t === undefined ||
      t.data_type !== DataType.FLOAT ||
      t.dims.length !== 2 ||
      t.raw_data === undefined
    ) {
      return undefined;
    }
    return t.dims[0] * t.dims[1] >= MIN_ELEMENTS ? t : undefined;
  };
  // A weight read by anything other than a quantizable use stays float too (it is still needed).
  const otherUses = new Set<string>();
  for (const n of graph.node) {
    n.input.forEach((name, i) => {
      const quantizable = (n.op_type === 'MatMul' && i === 1) || (n.op_type === 'Gather' && i === 0);
      if (!quantizable) otherUses.add(name);
    });
  }
  const added: TensorMessage[] = [];
  const quantizedWeights = new Map<string, { q: string; scale: string }>();
  const quantize = (t: TensorMessage, byColumn: boolean): { q: string; scale: string } => {
    const known = quantizedWeights.get(t.name);
    if (known !== undefined) return known;
    const [rows, cols] = t.dims;
    const { q, scales } = quantizeSymmetric(floatData(t), rows, cols, byColumn);
    const names = { q: `${t.name}_quantized`, scale: `${t.name}_scale` };
    added.push(tensor(names.q, q, [rows, cols], DataType.INT8));
    added.push(tensor(names.scale, scales, byColumn ? [cols] : [rows, 1], DataType.FLOAT));
    quantizedWeights.set(t.name, names);
    return names;
  };
  const zero = { int8: 'q8_zero_int8' };
  added.push(tensor(zero.int8, new Int8Array(1), [], DataType.INT8));
  const dynamic = new Map<string, [string, string, string]>();
  const nodes: NodeMessage[] = [];
  let k = 0;
  for (const n of graph.node) {
    const weightName = n.op_type === 'MatMul' ? n.input[1] : n.op_type === 'Gather' ? n.input[0] : undefined;
    const t = weightName === undefined || otherUses.has(weightName) ? undefined : isWeight(weightName);
    const gatherAxis = n.attribute.find((a) => a.name === 'axis')?.i ?? 0;
    if (t === undefined || (n.op_type === 'Gather' && gatherAxis !== 0)) {
      nodes.push(n);
      continue;
    }
    const id = `q8_${k++}`;
    const out = n.output[0];
    if (n.op_type === 'MatMul') {
      const { q, scale } = quantize(t, true);
      const x = n.input[0];
      let dq = dynamic.get(x);
      if (dq === undefined) {
        dq = [`${id}/x_quantized`, `${id}/x_scale`, `${id}/x_zero_point`];
        nodes.push(node('DynamicQuantizeLinear', [x], dq, `${id}/DynamicQuantizeLinear`));
        dynamic.set(x, dq);
      }
      nodes.push(node('MatMulInteger', [dq[0], q, dq[2], zero.int8], [`${id}/int32`], `${id}/MatMulInteger`));
      nodes.push(node('Cast', [`${id}/int32`], [`${id}/float`], `${id}/Cast`, DataType.FLOAT));
      nodes.push(node('Mul', [dq[1], scale], [`${id}/scale`], `${id}/Scale`));
      nodes.push(node('Mul', [`${id}/float`, `${id}/scale`], [out], `${id}/Rescale`));
    } else {
      const { q, scale } = quantize(t, false);
      const ids = n.input[1];
      nodes.push(node('Gather', [q, ids], [`${id}/rows`], `${id}/Gather`));
      nodes.push(node('Gather', [scale, ids], [`${id}/row_scales`], `${id}/GatherScale`));
      nodes.push(node('Cast', [`${id}/rows`], [`${id}/rows_float`], `${id}/Cast`, DataType.FLOAT));
      nodes.push(node('Mul', [`${id}/rows_float`, `${id}/row_scales`], [out], `${id}/Dequantize`));
    }
  }
  const initializer = [...graph.initializer.filter((t) => !quantizedWeights.has(t.name)), ...added];
  return { ...graph, node: nodes, initializer };
}
