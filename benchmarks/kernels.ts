/**
 * Micro-benchmark of our wasm kernels against the stock tfjs-backend-wasm ones, measured side by side in one
 * run: the matMul variants of a BERT training step, tile, gather, sum and transpose, then a forward+backward
 * pass of a BERT-shaped probe.
 *
 *   npx tsx benchmarks/kernels.ts            # table
 *   npx tsx benchmarks/kernels.ts --json     # one JSON object per line
 *   npx tsx benchmarks/kernels.ts --quick    # smaller probe model, fewer repetitions
 *
 * "stock" runs with every stock kernel we replace (our UnsortedSegmentSum stays registered, since the probe
 * cannot train on stock wasm at all without it).
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, registerWasmKernels, unregisterWasmKernels } from '../src/index.js';
import { makeProbeWeights, runProbe, type ProbeConfig } from '../test/backend/kernels-probe.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');

function useStock(stock: boolean): void {
  if (stock) unregisterWasmKernels(['BatchMatMul', '_FusedMatMul', 'Tile', 'GatherV2', 'Transpose', 'Sum']);
  else registerWasmKernels();
}

function timeOnce(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

/**
 * Best times of `reps` runs with the stock kernels and with ours, after a warm-up of each (XNNPACK operator
 * creation, heap growth). The runs alternate and the minimum is kept: the machine is shared, so a burst of
 * someone else's work should hit both columns alike, and the minimum is the least disturbed estimate.
 */
function stockVsOurs(f: () => void, reps: number, stockReps = reps): { stock: number; ours: number } {
  let stock = Infinity;
  let ours = Infinity;
  useStock(true);
  f();
  useStock(false);
  f();
  for (let i = 0; i < Math.max(reps, stockReps); i++) {
    if (i < stockReps) {
      useStock(true);
      stock = Math.min(stock, timeOnce(f));
    }
    if (i < reps) {
      useStock(false);
      ours = Math.min(ours, timeOnce(f));
    }
  }
  useStock(false);
  return { stock, ours };
}

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

// Shapes of a MiniLM-L6 layer at batch 16 x seq 64 (hidden 384, 12 heads of 32).
const cases: Case[] = [
  { name: 'x @ W (forward)', a: [1024, 384], b: [384, 384], transposeA: false, transposeB: false },
  { name: 'dy @ W^T (grad x)', a: [1024, 384], b: [384, 384], transposeA: false, transposeB: true },
  { name: 'x^T @ dy (grad W)', a: [1024, 384], b: [1024, 384], transposeA: true, transposeB: false },
  { name: 'x @ W1 (FFN up)', a: [1024, 384], b: [384, 1536], transposeA: false, transposeB: false },
  { name: 'dy @ W1^T (FFN grad x)', a: [1024, 1536], b: [384, 1536], transposeA: false, transposeB: true },
  { name: '[16,64,384] @ W (rank-3)', a: [16, 64, 384], b: [384, 384], transposeA: false, transposeB: false },
  {
    name: 'Q K^T [16,12,64,32]',
    a: [16, 12, 64, 32],
    b: [16, 12, 64, 32],
    transposeA: false,
    transposeB: true,
  },
  {
    name: 'P V [16,12,64,64]',
    a: [16, 12, 64, 64],
    b: [16, 12, 64, 32],
    transposeA: false,
    transposeB: false,
  },
  { name: 'P^T dO (grad V)', a: [16, 12, 64, 64], b: [16, 12, 64, 32], transposeA: true, transposeB: false },
  { name: 'dS K (grad Q)', a: [16, 12, 64, 64], b: [16, 12, 64, 32], transposeA: false, transposeB: false },
  { name: 'dS^T Q (grad K)', a: [16, 12, 64, 64], b: [16, 12, 64, 32], transposeA: true, transposeB: false },
];

function flops(c: Case): number {
  const r = c.a.length;
  const m = c.transposeA ? c.a[r - 1] : c.a[r - 2];
  const k = c.transposeA ? c.a[r - 2] : c.a[r - 1];
  const n = c.transposeB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
  const batch = c.a.slice(0, -2).reduce((p, d) => p * d, 1);
  return 2 * batch * m * n * k;
}

async function main(): Promise<void> {
  await initBackend({ backend: 'wasm' });
  const rows: string[][] = [
    ['matMul', 'a', 'b', 'stock ms', 'stock GFLOP/s', 'ours ms', 'ours GFLOP/s', 'speed-up'],
  ];
  for (const c of cases) {
    const a = tf.randomNormal(c.a);
    const b = tf.randomNormal(c.b);
    const run = (): void => tf.matMul(a, b, c.transposeA, c.transposeB).dispose();
    const reps = quick ? 2 : 5;
    const { stock, ours } = stockVsOurs(run, reps);
    tf.dispose([a, b]);
    const f = flops(c);
    const result = {
      name: `matMul ${c.name}`,
      backend: 'wasm',
      a: c.a,
      b: c.b,
      transposeA: c.transposeA,
      transposeB: c.transposeB,
      stockMs: stock,
      oursMs: ours,
      stockGflops: f / stock / 1e6,
      oursGflops: f / ours / 1e6,
    };
    if (json) console.log(JSON.stringify(result));
    rows.push([
      c.name,
      `[${c.a.join(',')}]${c.transposeA ? 'ᵀ' : ''}`,
      `[${c.b.join(',')}]${c.transposeB ? 'ᵀ' : ''}`,
      stock.toFixed(2),
      result.stockGflops.toFixed(1),
      ours.toFixed(2),
      result.oursGflops.toFixed(1),
      `${(stock / ours).toFixed(1)}x`,
    ]);
  }

  const sideBySide = (name: string, a: string, b: string, run: () => void): void => {
    const { stock, ours } = stockVsOurs(run, 5);
    if (json) console.log(JSON.stringify({ name, backend: 'wasm', stockMs: stock, oursMs: ours }));
    rows.push([name, a, b, stock.toFixed(2), '', ours.toFixed(2), '', `${(stock / ours).toFixed(1)}x`]);
  };
  const positions = tf.randomNormal([64, 384]);
  sideBySide('tile (positions)', '[64,384]', 'reps [16,1]', () => tf.tile(positions, [16, 1]).dispose());
  const table = tf.randomNormal([30522, 384]);
  const ids = tf.randomUniform([2048], 0, 30522, 'int32');
  sideBySide('gather (embedding)', '[30522,384]', '2048 ids', () => tf.gather(table, ids).dispose());
  const dy = tf.randomNormal([1024, 384]);
  sideBySide('sum over rows (bias grad)', '[1024,384]', 'axis 0', () => tf.sum(dy, 0).dispose());
  const grad = tf.randomNormal([30522, 384]);
  sideBySide('data-free transpose', '[30522,384]', 'perm [0,1]', () => tf.transpose(grad, [0, 1]).dispose());
  tf.dispose([positions, table, ids, dy, grad]);

  const config: ProbeConfig = quick
    ? { layers: 1, hidden: 128, heads: 4, intermediate: 512, seqLen: 32, batchSize: 8, vocab: 1000 }
    : { layers: 2, hidden: 384, heads: 12, intermediate: 1536, seqLen: 64, batchSize: 16, vocab: 30522 };
  const weights = makeProbeWeights(config);
  // One timed stock run: it takes ~20 s at the full shape.
  const { stock, ours } = stockVsOurs(() => runProbe(weights), quick ? 3 : 2, 1);
  const probe = {
    name: 'probe forward+backward',
    backend: 'wasm',
    ...config,
    stockMs: stock,
    oursMs: ours,
    stockPairsPerSec: config.batchSize / 2 / (stock / 1000),
    oursPairsPerSec: config.batchSize / 2 / (ours / 1000),
  };
  if (json) {
    console.log(JSON.stringify(probe));
    return;
  }
  rows.push([
    `probe fwd+bwd (${config.layers}L h${config.hidden} s${config.seqLen} b${config.batchSize})`,
    '',
    '',
    stock.toFixed(0),
    '',
    ours.toFixed(0),
    '',
    `${(stock / ours).toFixed(1)}x`,
  ]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    console.log(r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  '));
}

await main();
