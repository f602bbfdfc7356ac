/** Pieces shared by the benchmark cases: result rows, progress notes, and integer .npy files. */
import { writeFileAtomic } from '../../src/util/atomic.js';

/** One benchmark result, printed as one JSON object. Throughput fields depend on the case. */
export interface Row {
  name: string;
  backend: string;
  [field: string]: unknown;
}

/** A note on stderr, so that `--json` keeps stdout machine-readable. */
export function note(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** Seconds since `t0` (from `performance.now()`). */
export function since(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/**
 * CPU seconds this process (all its threads, workers included) used since `c0` (from `process.cpuUsage()`).
 * Next to the wall-clock seconds it shows how much of the machine a measurement really got: the benchmark
 * machines are shared, and a wall time at 30 % CPU says more about the neighbours than about the code.
 */
export function cpuSince(c0: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1e6;
}

/**
 * Write an int32 `.npy` (format 1.0, `<i4`, C order) for the reference script. The library's `writeNpy`
 * writes float32 only, and token ids belong in an integer array.
 */
export async function writeNpyInt32(file: string, data: Int32Array, shape: number[]): Promise<void> {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<i4', 'fortran_order': False, 'shape': (${dims}), }`;
  // numpy pads the header so that the data starts on a 64-byte boundary, ending in '\n'.
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + data.length * 4);
  out.write('\x93NUMPY', 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const start = 10 + header.length;
  for (let i = 0; i < data.length; i++) out.writeInt32LE(data[i], start + i * 4);
  await writeFileAtomic(file, out);
}
