// The fine-tune-vs-pretrained study as one command: train a small bi-encoder on SciFact, then compare BM25,
// the untrained model, exhaustive and HNSW search and an RRF hybrid on the test split.
//   npm run demo                      # ~10 minutes on 2 CPU cores (wasm); writes demo-output/report.md
//   npm run demo -- --quick           # a smoke run on a subset, well under a minute
//   npm run demo -- --help            # all flags (--model DIR, --steps N, --batch-size N, --out DIR, ...)
// The pieces are in examples/demo/: options.ts (flags), data.ts (splits and their overlap), study.ts (the
// experiment), report.ts (table, report.md, plots).
import { DenseRetrievalError } from '../src/index.js';
import { runDemo } from './demo/run.js';

try {
  await runDemo(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof DenseRetrievalError)) throw error;
  process.stderr.write(`demo: ${error.message}\n`);
  process.exitCode = 2;
}
