import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputFormatError } from '../errors.js';
import { processAlive, writeFileAtomic } from '../util/atomic.js';

/**
 * Where downloaded models live on disk. One directory per (repository, revision); a marker file written
 * last says the directory is complete, so an interrupted download is resumed, never used.
 */

/** Name of the marker file written last into a complete model directory. */
export const COMPLETE_MARKER = '.complete';

/**
 * The cache root: `$DENSE_RETRIEVAL_CACHE`, else `$XDG_CACHE_HOME/dense-retrieval`, else
 * `~/.cache/dense-retrieval`.
 *
 * @example
 * ```ts
 * defaultCacheDir(); // '/home/me/.cache/dense-retrieval'
 * ```
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DENSE_RETRIEVAL_CACHE) return path.resolve(env.DENSE_RETRIEVAL_CACHE);
  const base = env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(os.homedir(), '.cache');
  return path.join(base, 'dense-retrieval');
}

/**
 * The directory of one hub model revision inside `cacheDir`: `hub/<org>--<name>/<revision>`. The revision
 * is percent-encoded, so branch names with slashes (`refs/pr/1`) stay one directory.
 *
 * @example
 * ```ts
 * modelCacheDir('/cache', 'sentence-transformers/all-MiniLM-L6-v2', 'main');
 * // '/cache/hub/sentence-transformers--all-MiniLM-L6-v2/main'
 * ```
 */
export function modelCacheDir(cacheDir: string, repo: string, revision: string): string {
  return path.join(path.resolve(cacheDir), 'hub', repo.split('/').join('--'), encodeURIComponent(revision));
}

/** Whether `dir` holds a complete model (its marker exists). */
export async function isCompleteModelDir(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, COMPLETE_MARKER));
    return true;
  } catch {
    return false;
  }
}

/** What the marker records; a marker written by hand may be empty, so readers must not require it. */
export interface CompleteMarker {
  repo: string;
  revision: string;
  endpoint: string;
  files: string[];
  completedAt: string;
}

/** Mark `dir` complete. Called only after every file of the model is in place. */
export async function markComplete(dir: string, marker: CompleteMarker): Promise<void> {
  await writeFileAtomic(path.join(dir, COMPLETE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
}

/** Name of the lock file a downloading process holds in a model directory. */
export const LOCK_FILE = '.lock';
/** The holder refreshes the lock's mtime this often... */
const HEARTBEAT_MS = 5_000;
/** ...so a lock untouched for this long belongs to a process that died (on any host). */
const STALE_MS = 30_000;

/** Options of {@link lockModelDir}. */
export interface LockOptions {
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: (holder: string) => void;
  /** Poll interval while waiting; default 250 ms. */
  pollMs?: number;
}

/**
 * The state of an existing lock file: `gone` (released meanwhile), `stale` (not refreshed lately, or its
 * pid is dead on this host) or `held`.
 */
async function lockState(lock: string): Promise<'gone' | 'stale' | 'held'> {
  // lstat, not stat: a dangling symlink or a directory named `.lock` made every check say "gone" while
  // creating the lock kept failing with EEXIST, a busy loop that never ended.
  const stat = await fs.lstat(lock).catch(() => undefined);
  if (stat === undefined) return 'gone';
  if (!stat.isFile()) {
    const what = stat.isDirectory()
      ? 'a directory'
      : stat.isSymbolicLink()
        ? 'a symbolic link'
        : 'not a file';
    throw new InputFormatError(
      `is ${what}, not a lock file; remove it (no download can hold it) and rerun`,
      lock,
    );
  }
  let text: string;
  try {
    text = await fs.readFile(lock, 'utf8');
  } catch {
    return 'gone';
  }
  if (Date.now() - stat.mtimeMs > STALE_MS) return 'stale';
  const [host, pid] = text.trim().split(':');
  const dead = host === os.hostname() && Number.isInteger(Number(pid)) && !processAlive(Number(pid));
  return dead ? 'stale' : 'held';
}

/**
 * Hold `dir`'s download lock until the returned release function is called, so two processes (or two
 * calls in one process) never write the same `.part` files. Waits while another live holder has it; takes
 * over a lock left by a dead process. The holder keeps the lock fresh with a heartbeat.
 *
 * @example
 * ```ts
 * const release = await lockModelDir(dir);
 * try { ...download... } finally { await release(); }
 * ```
 */
export async function lockModelDir(dir: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  await fs.mkdir(dir, { recursive: true });
  const lock = path.join(dir, LOCK_FILE);
  const token = `${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2)}`;
  let waited = false;
  for (;;) {
    try {
      await fs.writeFile(lock, token, { flag: 'wx' });
      break;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // A failed download of another caller removed the (empty) directory meanwhile: make it again.
        await fs.mkdir(dir, { recursive: true });
        continue;
      }
      if (code !== 'EEXIST') throw error;
    }
    const state = await lockState(lock);
    if (state === 'gone') continue;
    if (state === 'stale') {
      // Two waiters could both judge the same lock stale; the window is tiny and needs a crash first.
      await fs.rm(lock, { force: true });
      continue;
    }
    if (!waited) {
      waited = true;
      options.onWait?.(await fs.readFile(lock, 'utf8').catch(() => 'another process'));
    }
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    fs.utimes(lock, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  return async () => {
    clearInterval(heartbeat);
    // Remove only our own lock: a holder that was declared stale may have been replaced.
    const text = await fs.readFile(lock, 'utf8').catch(() => '');
    if (text === token) await fs.rm(lock, { force: true });
  };
}
