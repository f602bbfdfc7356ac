/**
 * dense-retrieval's benchmark suite (issue 6): a MiniLM-L6-shaped training step, SciFact passage encoding
 * (this thread and worker threads), and exact / HNSW search with a recall-QPS curve, each side by side with
 * PyTorch / faiss measured in the same run on the same inputs when a python3 with torch is found.
 *
 *   npm run bench                       # table on stdout, progress on stderr
 *   npm run bench -- --json             # one JSON object per benchmark
 *   npm run bench -- --quick            # smaller sizes, under a minute
 *   npm run bench -- --cases encode --backend cpu
 *
 * Every run also writes its rows (ours and the reference's) to benchmarks/results/<date>.jsonl.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { wasmThreadCount } from '../src/backend/threaded-wasm.js';
import type { BackendName } from '../src/backend/index.js';
import { writeFileAtomic } from '../src/util/atomic.js';
import { note } from './lib/common.js';
import type { Row } from './lib/common.js';
import { benchEncode } from './lib/encode.js';
import { benchEncodeArchitectures } from './lib/encode-architectures.js';
import { benchEncodeOnnx } from './lib/encode-onnx.js';
import { benchIndex } from './lib/index-search.js';
import { benchPgvector } from './lib/pgvector.js';
import { parseBenchOptions, USAGE } from './lib/options.js';
import type { BenchOptions, CaseName } from './lib/options.js';
import { findPython, runReference } from './lib/reference.js';
import { attachReference, formatTable } from './lib/report.js';
import { benchStartup } from './lib/startup.js';
import { benchTrain } from './lib/train.js';
import { benchQuantized } from './lib/quantized.js';

async function runCase(
  which: CaseName,
  opts: BenchOptions,
  backend: BackendName,
  workdir: string,
): Promise<Row[]> {
  if (which === 'train') return [await benchTrain(opts, backend, workdir)];
  if (which === 'encode') return benchEncode(opts, backend, workdir);
  if (which === 'architectures') return benchEncodeArchitectures(opts, backend);
  if (which === 'quantized') return benchQuantized(opts, workdir);
  if (which === 'pgvector') return benchPgvector(opts);
  if (which === 'startup') return benchStartup(opts, workdir);
  if (which === 'onnx') return benchEncodeOnnx(opts, workdir);
  return benchIndex(opts, workdir);
}

async function main(): Promise<void> {
  let opts: BenchOptions;
  try {
    opts = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const backend = await initBackend({ backend: opts.backend as BackendName | 'auto' });
  const threads = os.availableParallelism();
  // DENSE_RETRIEVAL_WASM_THREADS=1 measures the single-threaded wasm build.
  const wasmThreads = backend === 'wasm' ? await wasmThreadCount() : 0;
  const python = opts.reference ? findPython() : undefined;
  if (opts.reference && python === undefined) {
    note('no python3 with torch found (tried python3, /usr/bin/python3): no reference numbers');
  } else if (python !== undefined && !python.faiss) {
    note(`${python.python} has torch but no faiss: no index reference`);
  }
  const date = new Date().toISOString();
  const meta = { date, cpus: threads, wasmThreads, node: process.version, quick: opts.quick };
  const workdir = mkdtempSync(path.join(os.tmpdir(), 'dr-bench-'));
  const ours: Row[] = [];
  const reference: Row[] = [];
  try {
    for (const which of opts.cases) {
      const rows = await runCase(which, opts, backend, workdir);
      // The reference runs after our side, never at the same time: both want every core.
      // pgvector's reference rows are the index case's (HnswIndex, faiss) on the same data; startup and
      // architectures have none.
      const refs =
        python && which !== 'pgvector' && which !== 'startup' && which !== 'architectures'
          ? await runReference(python.python, opts, which, workdir)
          : [];
      attachReference(rows, refs);
      ours.push(...rows);
      reference.push(...refs);
      if (opts.json)
        for (const r of [...rows, ...refs]) process.stdout.write(`${JSON.stringify({ ...r, ...meta })}\n`);
    }
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
  if (!opts.json) {
    process.stdout.write(`\n${formatTable(ours)}\n`);
    process.stdout.write(
      `\n${meta.date}, ${threads} cores${wasmThreads > 0 ? `, wasm on ${wasmThreads} thread(s)` : ''}, Node ${meta.node}; ratio = ours / reference (higher is better for us)\n`,
    );
  }
  const file = path.join(opts.resultsDir, `${date.replace(/[:.]/g, '-')}.jsonl`);
  const lines = [...ours, ...reference].map((r) => JSON.stringify({ ...r, ...meta }));
  await writeFileAtomic(file, `${lines.join('\n')}\n`);
  note(`results written to ${path.relative(process.cwd(), file)}`);
}

await main();
