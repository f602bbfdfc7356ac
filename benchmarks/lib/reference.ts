/**
 * The PyTorch / faiss side of the comparison: finds a python3 that can import torch and runs
 * benchmarks/reference/torch_bench.py on the inputs the JS cases wrote to the work directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { note } from './common.js';
import type { Row } from './common.js';
import type { BenchOptions, CaseName } from './options.js';

export const REFERENCE_SCRIPT = path.join(import.meta.dirname, '..', 'reference', 'torch_bench.py');

/** A python3 with torch: `python3` on PATH first, then Debian's `/usr/bin/python3`; undefined if none. */
export function findPython(): { python: string; faiss: boolean } | undefined {
  for (const python of ['python3', '/usr/bin/python3']) {
    const torch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    if (torch.status !== 0) continue;
    const faiss = spawnSync(python, ['-c', 'import faiss'], { stdio: 'ignore' });
    return { python, faiss: faiss.status === 0 };
  }
  return undefined;
}

export const FAISS_QUANTIZED_SCRIPT = path.join(import.meta.dirname, '..', 'reference', 'faiss_quantized.py');

/**
 * The faiss side of the `quantized` case. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from its
 * environment: they are tuning overrides of this machine's shell, not of the reference.
 */
function runFaissQuantized(python: string, threads: number, workdir: string): Promise<Row[]> {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const args = [FAISS_QUANTIZED_SCRIPT, '--workdir', workdir, '--threads', String(threads)];
  note(`reference quantized: ${python} ${path.relative(process.cwd(), FAISS_QUANTIZED_SCRIPT)}`);
  return collectRows(spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env }), 'quantized');
}

/** Rows a reference process prints as JSON lines (none, reported, if it fails). */
function collectRows(child: ReturnType<typeof spawn>, which: string): Promise<Row[]> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (error) => {
      note(`reference ${which} could not start: ${error.message}`);
      resolve([]);
    });
    child.on('close', (code) => {
      if (code !== 0) {
        note(`reference ${which} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
        resolve([]);
        return;
      }
      resolve(
        stdout
          .split('\n')
          .filter((l) => l.trim().startsWith('{'))
          .map((l) => JSON.parse(l) as Row),
      );
    });
  });
}

/** Run the reference for one case; resolves to its rows (none if the script fails, which is reported). */
export function runReference(
  python: string,
  opts: BenchOptions,
  which: CaseName,
  workdir: string,
): Promise<Row[]> {
  const threads = opts.refThreads;
  if (which === 'quantized') return runFaissQuantized(python, threads, workdir);
  // The onnx case compares with PyTorch's encode on the same ids.
  const refCase = which === 'onnx' ? 'encode' : which;
  const { shape, train, encode, index } = opts;
  const args = [
    REFERENCE_SCRIPT,
    '--workdir',
    workdir,
    '--cases',
    refCase,
    '--layers',
    String(shape.layers),
    '--hidden',
    String(shape.hidden),
    '--heads',
    String(shape.heads),
    '--intermediate',
    String(shape.intermediate),
    '--vocab',
    String(shape.vocab),
    '--train-batch',
    String(train.batchSize),
    '--train-seq',
    String(train.seqLen),
    '--steps',
    String(train.steps),
    '--warmup',
    String(train.warmup),
    '--encode-batch',
    String(encode.batchSize),
    '--M',
    String(index.M),
    '--ef-construction',
    String(index.efConstruction),
    '--ef',
    index.ef.join(','),
    '--threads',
    String(threads),
  ];
  note(
    `reference ${which}: ${python} ${path.relative(process.cwd(), REFERENCE_SCRIPT)} (threads: ${threads === 0 ? 'library default' : threads})`,
  );
  return new Promise((resolve) => {
    // OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are this machine's shell overrides (older kernels): the reference
    // runs without them, at its best, and reports the BLAS core that ran.
    const env = { ...process.env };
    delete env.OPENBLAS_CORETYPE;
    delete env.OPENBLAS_L2_SIZE;
    const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (error) => {
      note(`reference ${which} could not start: ${error.message}`);
      resolve([]);
    });
    child.on('close', (code) => {
      for (const line of stderr.split('\n')) if (line.startsWith('reference BLAS:')) note(line);
      if (code !== 0) {
        note(`reference ${which} failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
        resolve([]);
        return;
      }
      const rows = stdout
        .split('\n')
        .filter((l) => l.trim().startsWith('{'))
        .map((l) => JSON.parse(l) as Row);
      resolve(rows);
    });
  });
}
