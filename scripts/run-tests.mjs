#!/usr/bin/env node
// Runs the test suite with node's own test runner (TypeScript through tsx). Optional arguments are
// substrings that select test files, e.g. `npm run test:unit -- eval/metrics`.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function collect(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...collect(full));
    else if (entry.endsWith('.test.ts')) out.push(full);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = collect('test')
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=600000', ...files],
  // Two test files run at once on two cores: a two-thread wasm pool in each would oversubscribe the cores and
  // make every product wait for a descheduled thread. The tests of the threaded build set the count themselves.
  // ONNX Runtime sessions likewise get one intra-op thread each.
  {
    stdio: 'inherit',
    env: { DENSE_RETRIEVAL_WASM_THREADS: '1', DENSE_RETRIEVAL_ONNX_THREADS: '1', ...process.env },
  },
);
process.exit(result.status ?? 1);
