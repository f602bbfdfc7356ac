/**
 * Child process of fuzz.test.ts: applies seeded byte mutations to one index file and loads each mutant,
 * reporting the outcome of each as JSON on stdout. It runs apart from the test runner so that a native
 * crash (a signal) fails the test instead of killing the runner; before each load it writes the mutation's
 * number to stderr, so the last one printed names the culprit.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { DenseRetrievalError } from '../../src/errors.js';
import { Bm25Index } from '../../src/index/bm25.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { BinaryIndex } from '../../src/index/binary.js';
import { Int8Index } from '../../src/index/int8.js';
import type { SearchResult } from '../../src/index/types.js';
import { rewriteContainer } from './container-helpers.js';

export interface FuzzJob {
  file: string;
  kind: 'exact' | 'hnsw' | 'bm25' | 'int8' | 'binary';
  /** `raw`: flip bytes of the file as stored; `resealed`: flip bytes of one section, then rewrite the
   * container with fresh checksums (a crafted or version-1 file), reaching the structural checks. */
  mode: 'raw' | 'resealed';
  seed: number;
  count: number;
  k: number;
  vectorQueries?: { data: number[]; rows: number; cols: number };
  textQueries?: string[];
  expected: SearchResult;
  workDir: string;
}

export interface FuzzReport {
  typedErrors: number;
  unchanged: number;
  changedWellFormed: number;
  failures: string[];
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function flip(bytes: Uint8Array, rand: () => number): void {
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rand() * bytes.length);
    bytes[at] ^= 1 + Math.floor(rand() * 255);
  }
}

async function search(job: FuzzJob, file: string): Promise<SearchResult> {
  if (job.kind === 'bm25') return (await Bm25Index.load(file)).search(job.textQueries!, job.k);
  const index =
    job.kind === 'exact'
      ? await ExactIndex.load(file)
      : job.kind === 'int8'
        ? await Int8Index.load(file)
        : job.kind === 'binary'
          ? await BinaryIndex.load(file)
          : await HnswIndex.load(file);
  const q = job.vectorQueries!;
  return index.search({ data: Float32Array.from(q.data), rows: q.rows, cols: q.cols }, job.k);
}

function plain(r: SearchResult): unknown {
  return { ids: r.ids, scores: r.scores.map((s) => Array.from(s)) };
}

async function main(): Promise<void> {
  const job = JSON.parse(await fs.readFile(process.argv[2], 'utf8')) as FuzzJob;
  const original = new Uint8Array(await fs.readFile(job.file));
  const rand = rng(job.seed);
  const report: FuzzReport = { typedErrors: 0, unchanged: 0, changedWellFormed: 0, failures: [] };
  const mutant = path.join(job.workDir, `mutant-${job.kind}-${job.mode}-${process.pid}.idx`);
  const expected = plain(job.expected);
  for (let m = 0; m < job.count; m++) {
    if (job.mode === 'raw') {
      const bytes = Uint8Array.from(original);
      flip(bytes, rand);
      await fs.writeFile(mutant, bytes);
    } else {
      await rewriteContainer(job.file, mutant, (_header, sections) => {
        const names = Object.keys(sections);
        flip(sections[names[Math.floor(rand() * names.length)]], rand);
      });
    }
    process.stderr.write(`mutation ${m}\n`);
    let result: SearchResult;
    try {
      result = await search(job, mutant);
    } catch (error) {
      if (error instanceof DenseRetrievalError) report.typedErrors++;
      else report.failures.push(`mutation ${m}: untyped ${String(error)}`);
      continue;
    }
    if (isDeepStrictEqual(plain(result), expected)) {
      report.unchanged++;
      continue;
    }
    if (job.mode === 'raw') {
      report.failures.push(`mutation ${m}: a checksummed file loaded with a different result`);
      continue;
    }
    // A resealed mutant may be a valid (different) index: its answers must still be well-formed.
    const wellFormed = result.ids.every(
      (row, i) =>
        row.length <= job.k &&
        new Set(row).size === row.length &&
        row.every((id) => typeof id === 'string') &&
        result.scores[i].length === row.length &&
        result.scores[i].every((s) => !Number.isNaN(s)),
    );
    if (wellFormed) report.changedWellFormed++;
    else
      report.failures.push(`mutation ${m}: malformed result ${JSON.stringify(plain(result)).slice(0, 200)}`);
  }
  await fs.rm(mutant, { force: true });
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

await main();
