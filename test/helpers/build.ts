import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return t;
}

function upToDate(): boolean {
  try {
    const built = Math.min(
      statSync(path.join(ROOT, 'dist', 'cli.js')).mtimeMs,
      statSync(path.join(ROOT, 'dist', 'index.d.cts')).mtimeMs,
    );
    const sources = Math.max(
      newest(path.join(ROOT, 'src')),
      statSync(path.join(ROOT, 'package.json')).mtimeMs,
      statSync(path.join(ROOT, 'tsup.config.ts')).mtimeMs,
    );
    return built >= sources;
  } catch {
    return false;
  }
}

/**
 * Make sure `dist/` is built from the current sources (`npm test` builds before the tests; a lone
 * `npm run test:unit -- <file>` may not have). Test files run two at a time, so the build holds a lock
 * directory: tsup cleans `dist/` first, and two builds at once would delete each other's output.
 */
export function ensureBuilt(): void {
  if (upToDate()) return;
  const lock = path.join(ROOT, '.build-lock');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`${lock} held for 5 minutes; remove it if stale`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    if (upToDate()) return;
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    if (r.status !== 0)
      throw new Error(`npm run build failed:\n${r.stdout.toString()}${r.stderr.toString()}`);
  } finally {
    rmdirSync(lock);
  }
}
