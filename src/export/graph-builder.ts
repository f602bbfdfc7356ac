import { DataType } from './onnx-schema.js';
import type { DataTypeCode } from './onnx-schema.js';
import { AttributeType } from './onnx-schema.js';

/**
 * A small builder of ONNX graphs: named values, nodes with fresh output names, initializers as raw little-endian
 * bytes, and plain objects in the shape of the ONNX messages (encoded by `serialize.ts`). The per-architecture
 * exporters write their forward pass against it, one ONNX op per call.
 */

/** A float attribute (an integer-valued JavaScript number would otherwise be written as an int). */
export interface FloatAttr {
  float: number;
}

/** An attribute value: an int, ints, a string, or a float ({@link f}). */
export type Attr = number | number[] | string | FloatAttr;

/** A float attribute value. */
export const f = (value: number): FloatAttr => ({ float: value });

/** Tensor data an initializer can hold. */
export type TensorData = Float32Array | Int32Array | Int8Array | Uint8Array | BigInt64Array;

/** Dimensions of a graph input or output: a number, or the name of a dynamic axis. */
export type Dim = number | string;

/** A TensorProto as a plain object. */
export interface TensorMessage {
  name: string;
  dims: number[];
  data_type: DataTypeCode;
  raw_data?: Uint8Array;
  doc_string?: string;
  external_data?: { key: string; value: string }[];
  data_location?: number;
}

export interface AttributeMessage {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  ints?: number[];
}

export interface NodeMessage {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  domain: string;
  attribute: AttributeMessage[];
}

interface ValueInfoMessage {
  name: string;
  type: {
    tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } };
  };
}

/** A GraphProto as a plain object. */
export interface GraphMessage {
  name: string;
  node: NodeMessage[];
  initializer: TensorMessage[];
  input: ValueInfoMessage[];
  output: ValueInfoMessage[];
}

function dataTypeOf(data: TensorData): DataTypeCode {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint8Array) return DataType.UINT8;
  return DataType.INT64;
}

function attribute(name: string, value: Attr): AttributeMessage {
  if (typeof value === 'string') {
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  }
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  return { name, type: AttributeType.FLOAT, f: value.float };
}

function valueInfo(name: string, elemType: DataTypeCode, dims: Dim[]): ValueInfoMessage {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
      },
    },
  };
}

/**
 * Builds one graph.
 *
 * @example
 * ```ts
 * const g = new GraphBuilder('encoder');
 * const x = g.input('x', DataType.FLOAT, ['batch', 4]);
 * const w = g.initializer('w', new Float32Array(8), [4, 2]);
 * g.output(g.op('MatMul', [x, w]), 'y', DataType.FLOAT, ['batch', 2]);
 * ```
 */
export class GraphBuilder {
  private readonly nodes: NodeMessage[] = [];
  private readonly initializers: TensorMessage[] = [];
  private readonly inputs: ValueInfoMessage[] = [];
  private readonly outputs: ValueInfoMessage[] = [];
  private readonly names = new Set<string>();
  private readonly constants = new Map<string, string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** Declare a graph input; returns its name. */
  input(name: string, elemType: DataTypeCode, dims: Dim[]): string {
    this.claim(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Expose `value` as the graph output `name` (through an Identity when the names differ). */
  output(value: string, name: string, elemType: DataTypeCode, dims: Dim[]): void {
    if (value !== name) {
      this.claim(name);
      this.nodes.push(this.node('Identity', [value], [name], {}));
    }
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /**
   * A weight (or any constant) stored as an initializer in raw little-endian bytes; `doc` is written as its
   * `doc_string`. Returns its name.
   */
  initializer(name: string, data: TensorData, dims: number[], doc?: string): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new Error(`initializer ${name}: ${data.length} values for dims [${dims.join(', ')}]`);
    }
    this.claim(name);
    this.initializers.push({
      name,
      dims: [...dims],
      data_type: dataTypeOf(data),
      raw_data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      ...(doc === undefined ? {} : { doc_string: doc }),
    });
    return name;
  }

  /** A float32 constant (scalar when `dims` is `[]`), shared by every use of the same values. */
  constFloat(values: number | number[], dims?: number[]): string {
    const list = typeof values === 'number' ? [values] : values;
    return this.constant(new Float32Array(list), dims ?? (typeof values === 'number' ? [] : [list.length]));
  }

  /** An int64 constant (scalar when `values` is a number), shared by every use of the same values. */
  constInt(values: number | number[], dims?: number[]): string {
    const list = typeof values === 'number' ? [values] : values;
    return this.constant(
      BigInt64Array.from(list.map((v) => BigInt(v))),
      dims ?? (typeof values === 'number' ? [] : [list.length]),
    );
  }

  /** Add a node of `opType`; returns its single output's fresh name. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, domain = ''): string {
    return this.opN(opType, inputs, 1, attrs, domain)[0];
  }

  /** Add a node with `outputs` outputs; returns their fresh names. */
  opN(
    opType: string,
    inputs: string[],
    outputs: number,
    attrs: Record<string, Attr> = {},
    domain = '',
  ): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(opType));
    this.nodes.push(this.node(opType, inputs, names, attrs, domain));
    return names;
  }

  /** The GraphProto as a plain object. */
  build(): GraphMessage {
    return {
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }

  private constant(data: Float32Array | BigInt64Array, dims: number[]): string {
    const key = `${data instanceof Float32Array ? 'f' : 'i'}[${dims.join(',')}]${Array.from(data as ArrayLike<number | bigint>).join(',')}`;
    const known = this.constants.get(key);
    if (known !== undefined) return known;
    const name = this.initializer(this.unused('const'), data, dims);
    this.constants.set(key, name);
    return name;
  }

  private node(
    opType: string,
    inputs: string[],
    outputs: string[],
    attrs: Record<string, Attr>,
    domain = '',
  ): NodeMessage {
    return {
      input: inputs,
      output: outputs,
      name: `${opType}_${this.nodes.length}`,
      op_type: opType,
      domain,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    };
  }

  /** A name not used yet (not claimed). */
  private unused(prefix: string): string {
    let name: string;
    do name = `/${prefix}_${this.counter++}`;
    while (this.names.has(name));
    return name;
  }

  private fresh(prefix: string): string {
    const name = this.unused(prefix);
    this.names.add(name);
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`graph value ${name} is defined twice`);
    this.names.add(name);
  }
}
