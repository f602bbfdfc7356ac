/**
 * CLI start-up: wall time from spawning `node bin/dense-retrieval.js ...` to its exit, for commands that
 * need no model (`--help`, `evaluate`), which must not load tfjs, the tokenizers or native addons (issue 11:
 * target under 0.5 s; it was 1.7-3 s while every command was imported up front). `node -e ''` is measured
 * alongside, so the table shows what Node itself costs on this machine. Runs the built CLI (`dist/`): run
 * `npm run build` first.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Row } from './common.js';
import { note } from './common.js';
import type { BenchOptions } from './options.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** The start-up target of issue 11, in seconds. */
export const STARTUP_TARGET_SECONDS = 0.5;

function timeOnce(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    throw new Error(`'node ${args.join(' ')}' exited with ${r.status}: ${r.stderr.toString().trim()}`);
  }
  return seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One row per command: median and best wall seconds over `opts.startup.runs` runs (after one warm-up). */
export async function benchStartup(opts: BenchOptions, workdir: string): Promise<Row[]> {
  const bin = path.join(ROOT, 'bin', 'dense-retrieval.js');
  if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) {
    throw new Error('the startup case runs the built CLI: run `npm run build` first');
  }
  const qrels = path.join(workdir, 'startup-qrels.txt');
  const run = path.join(workdir, 'startup-run.txt');
  await writeFile(qrels, 'q1 0 d1 1\nq2 0 d3 1\n');
  await writeFile(run, 'q1 Q0 d1 1 2.0 bench\nq1 Q0 d2 2 1.0 bench\nq2 Q0 d3 1 1.0 bench\n');
  const commands: { command: string; args: string[] }[] = [
    { command: "node -e ''", args: ['-e', ''] },
    { command: '--help', args: [bin, '--help'] },
    { command: 'evaluate', args: [bin, 'evaluate', '--qrels', qrels, '--run', run] },
  ];
  const rows: Row[] = [];
  for (const { command, args } of commands) {
    timeOnce(args); // warm the file-system cache
    const times = Array.from({ length: opts.startup.runs }, () => timeOnce(args));
    const seconds = median(times);
    note(`startup ${command}: median ${seconds.toFixed(3)} s over ${times.length} runs`);
    rows.push({
      name: 'cli-startup',
      backend: 'node',
      command,
      runs: times.length,
      seconds,
      bestSeconds: Math.min(...times),
      targetSeconds: command.startsWith('node') ? undefined : STARTUP_TARGET_SECONDS,
    });
  }
  return rows;
}
