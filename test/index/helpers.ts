import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Matrix } from '../../src/types.js';
import { REPO_ROOT } from '../helpers/cli.js';

/** Shared helpers of the index tests. */

export const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/index');

export function fixtureJson<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as T;
}

/** Deterministic standard-normal matrix (mulberry32 + Box-Muller). */
export function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    data[i] = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  }
  return { data, rows, cols };
}

export function ids(n: number, prefix = 'd'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

export function rows(m: Matrix, start: number, end: number): Matrix {
  return { data: m.data.slice(start * m.cols, end * m.cols), rows: end - start, cols: m.cols };
}
