import { ArgumentError } from '../errors.js';
import type { DenseModule } from '../models/modules/dense.js';
import type { PoolingMode } from '../models/pooling.js';
import { DataType } from './onnx-schema.js';
import type { Blocks } from './blocks.js';

/**
 * sentence-transformers' modules after the Transformer as ONNX: Pooling (every mode of `models/pooling.ts`,
 * with the same formulas), Dense modules and Normalize, from the last hidden state to `sentence_embedding`.
 */

/** ONNX op of each Dense `activation_function` the library runs. */
const DENSE_ACTIVATIONS: Record<string, string> = {
  'torch.nn.modules.activation.Tanh': 'Tanh',
  'torch.nn.modules.linear.Identity': 'Identity',
  'torch.nn.modules.activation.ReLU': 'Relu',
  'torch.nn.modules.activation.Sigmoid': 'Sigmoid',
};

/** Pool `[batch, seq, hidden]` over the int64 `[batch, seq]` mask, as `pool()` does. */
export function poolGraph(b: Blocks, hidden: string, mask: string, mode: PoolingMode): string {
  const g = b.g;
  if (mode === 'cls') return b.op('Gather', [hidden, g.constInt(0)], { axis: 1 });
  const maskF = b.op('Cast', [mask], { to: DataType.FLOAT }); // [batch, seq]
  if (mode === 'lasttoken') {
    // The last position whose mask is 1 (an all-zero row takes the last token, as argmax of the reversed row).
    const last = b.op('ArgMax', [maskF], { axis: 1, keepdims: 1, select_last_index: 1 }); // [batch, 1]
    const positions = b.unsqueeze(b.range(b.dim(mask, 1)), [0]); // [1, seq]
    const onehot = b.op('Cast', [b.op('Equal', [positions, last])], { to: DataType.FLOAT });
    return b.reduce('ReduceSum', b.mul(hidden, b.unsqueeze(onehot, [2])), [1], false);
  }
  const m = b.unsqueeze(maskF, [2]); // [batch, seq, 1]
  if (mode === 'max') {
    const masked = b.add(b.mul(hidden, m), b.mul(b.op('Sub', [g.constFloat(1), m]), g.constFloat(-1e9)));
    return b.reduce('ReduceMax', masked, [1], false);
  }
  let weights = m;
  if (mode === 'weightedmean') {
    const positions = b.op('Cast', [b.range(b.dim(mask, 1))], { to: DataType.FLOAT });
    const ramp = b.add(positions, g.constFloat(1)); // 1..seq
    weights = b.mul(m, b.unsqueeze(ramp, [0, 2]));
  }
  const summed = b.reduce('ReduceSum', b.mul(hidden, weights), [1], false);
  const counts = b.op('Max', [b.reduce('ReduceSum', weights, [1], false), g.constFloat(1e-9)]);
  return b.op('Div', [summed, mode === 'mean_sqrt_len_tokens' ? b.op('Sqrt', [counts]) : counts]);
}

/** One Dense module: `activation(x W + b)`; its weights are named `<index>_Dense.linear.*`. */
export function denseGraph(b: Blocks, x: string, dense: DenseModule, index: number): string {
  const op = DENSE_ACTIVATIONS[dense.activation];
  if (op === undefined) {
    throw new ArgumentError(
      'encoder',
      `Dense module ${index} has activation_function ${dense.activation}, which has no ONNX export (supported: ${Object.keys(DENSE_ACTIVATIONS).join(', ')})`,
    );
  }
  const prefix = `${2 + index}_Dense.linear`;
  const kernel = b.weight(`${prefix}.weight`, dense.kernel, 'Dense weight transposed to [in, out]');
  const bias = dense.bias === undefined ? undefined : b.weight(`${prefix}.bias`, dense.bias);
  const y = b.linear(x, kernel, bias);
  return op === 'Identity' ? y : b.op(op, [y]);
}

/** L2-normalise rows, `x / max(||x||, 1e-12)` (`F.normalize`). */
export function normalizeGraph(b: Blocks, x: string): string {
  const norm = b.op('Sqrt', [b.reduce('ReduceSum', b.mul(x, x), [-1], true)]);
  return b.op('Div', [x, b.op('Max', [norm, b.g.constFloat(1e-12)])]);
}
