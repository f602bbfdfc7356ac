import type * as tf from '@tensorflow/tfjs';
import { DataType } from './onnx-schema.js';
import { f } from './graph-builder.js';
import type { TensorData, GraphBuilder } from './graph-builder.js';
import type { Activation } from '../models/layers.js';

/**
 * The building blocks the architecture exporters share, written once against the opset: linear layers,
 * LayerNorm (the opset-17 op, or its decomposition below 17), activations, multi-head attention and the
 * reductions whose signature changed at opset 18 (axes as an attribute before, as an input from 18 on).
 */

/** The additive mask value our encoders (and HF) use: the float32 minimum. */
export const MASK_VALUE = -3.4028234663852886e38;

/** Values of one graph built at one opset. */
export class Blocks {
  constructor(
    readonly g: GraphBuilder,
    readonly opset: number,
  ) {}

  /** A weight from a tfjs tensor (copied out of the backend), named `name`. */
  weight(name: string, t: tf.Tensor, doc?: string): string {
    return this.g.initializer(name, Float32Array.from(t.dataSync() as Float32Array), t.shape, doc);
  }

  /** A weight from plain data. */
  raw(name: string, data: TensorData, dims: number[], doc?: string): string {
    return this.g.initializer(name, data, dims, doc);
  }

  op(type: string, inputs: string[], attrs?: Parameters<GraphBuilder['op']>[2]): string {
    return this.g.op(type, inputs, attrs);
  }

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  /** `x W + b` with `W` `[in, out]`; `b` optional. */
  linear(x: string, kernel: string, bias?: string): string {
    const y = this.op('MatMul', [x, kernel]);
    return bias === undefined ? y : this.add(y, bias);
  }

  /** LayerNorm over the last axis (population variance, eps inside the square root). */
  layerNorm(x: string, gamma: string, beta: string, eps: number): string {
    if (this.opset >= 17) {
      return this.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: f(eps) });
    }
    const mean = this.reduce('ReduceMean', x, [-1], true);
    const centered = this.op('Sub', [x, mean]);
    const variance = this.reduce('ReduceMean', this.mul(centered, centered), [-1], true);
    const std = this.op('Sqrt', [this.add(variance, this.g.constFloat(eps))]);
    return this.add(this.mul(this.op('Div', [centered, std]), gamma), beta);
  }

  /** `ReduceSum`/`ReduceMax`/`ReduceMean` over `axes` (attribute before opset 18, input from 18; ReduceSum's from 13). */
  reduce(
    type: 'ReduceSum' | 'ReduceMax' | 'ReduceMean',
    x: string,
    axes: number[],
    keepdims: boolean,
  ): string {
    const asInput = type === 'ReduceSum' || this.opset >= 18;
    return asInput
      ? this.op(type, [x, this.g.constInt(axes)], { keepdims: keepdims ? 1 : 0 })
      : this.op(type, [x], { axes, keepdims: keepdims ? 1 : 0 });
  }

  /** Split the last axis into `parts` equal parts. */
  splitLast(x: string, parts: number): string[] {
    return this.g.opN(
      'Split',
      [x],
      parts,
      this.opset >= 18 ? { axis: -1, num_outputs: parts } : { axis: -1 },
    );
  }

  unsqueeze(x: string, axes: number[]): string {
    return this.op('Unsqueeze', [x, this.g.constInt(axes)]);
  }

  /** Dimension `axis` of `x` as an int64 scalar. */
  dim(x: string, axis: number): string {
    return this.op('Gather', [this.op('Shape', [x]), this.g.constInt(axis)], { axis: 0 });
  }

  /** `0, 1, ..., n - 1` (int64) for an int64 scalar `n`. */
  range(n: string): string {
    return this.op('Range', [this.g.constInt(0), n, this.g.constInt(1)]);
  }

  /** An activation of {@link Activation} (the exact erf GELU, its tanh approximation, or ReLU). */
  activate(x: string, act: Activation): string {
    const half = this.mul(x, this.g.constFloat(0.5));
    switch (act) {
      case 'gelu': {
        // Div by sqrt(2) (not Mul by its inverse): the pattern onnxruntime's GeluFusion folds into one op.
        const erf = this.op('Erf', [this.op('Div', [x, this.g.constFloat(Math.SQRT2)])]);
        return this.mul(half, this.add(erf, this.g.constFloat(1)));
      }
      case 'gelu_new':
      case 'gelu_pytorch_tanh': {
        const cube = this.mul(this.mul(x, x), x);
        const inner = this.mul(
          this.add(x, this.mul(cube, this.g.constFloat(0.044715))),
          this.g.constFloat(Math.sqrt(2 / Math.PI)),
        );
        return this.mul(half, this.add(this.op('Tanh', [inner]), this.g.constFloat(1)));
      }
      case 'relu':
        return this.op('Relu', [x]);
    }
  }

  /** `[batch, 1, 1, seq]` float: 0 where `mask` (int64 `[batch, seq]`) is 1, the float32 minimum where 0. */
  maskBias(mask: string): string {
    const m = this.op('Cast', [mask], { to: DataType.FLOAT });
    const bias = this.mul(this.op('Sub', [this.g.constFloat(1), m]), this.g.constFloat(MASK_VALUE));
    return this.unsqueeze(bias, [1, 2]);
  }

  /** `[batch, seq, hidden]` -> `[batch, heads, seq, headDim]` (or `perm` of `[batch, seq, heads, headDim]`). */
  heads(x: string, heads: number, headDim: number, perm: number[] = [0, 2, 1, 3]): string {
    const split = this.op('Reshape', [x, this.g.constInt([0, 0, heads, headDim])]);
    return this.op('Transpose', [split], { perm });
  }

  /** `[batch, heads, seq, headDim]` -> `[batch, seq, hidden]`. */
  mergeHeads(x: string, hidden: number): string {
    const t = this.op('Transpose', [x], { perm: [0, 2, 1, 3] });
    return this.op('Reshape', [t, this.g.constInt([0, 0, hidden])]);
  }

  /**
   * Scaled dot-product attention on `[batch, heads, seq, headDim]` queries (already scaled) and values, keys
   * as `[batch, heads, headDim, seq]`; `biases` are added to the scores in order.
   */
  attention(q: string, kT: string, v: string, biases: string[]): string {
    let scores = this.op('MatMul', [q, kT]);
    for (const b of biases) scores = this.add(scores, b);
    const probs = this.op('Softmax', [scores], { axis: -1 });
    return this.op('MatMul', [probs, v]);
  }
}
