import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WriteError } from '../errors.js';

/**
 * Atomic writes: data goes to a temporary sibling first and is renamed over the target only once it is
 * complete and flushed, so a process killed midway leaves either the old file or the new one, never half.
 * What a killed writer leaves behind (its hidden temp file) is removed by the next write into the same
 * directory once that writer is known to be gone.
 */

// Temp names carry a hash of the host name and the writer's pid, so a later writer can tell litter of a
// killed process (dead pid on this host) from work in progress of a live one.
const HOST = createHash('sha256').update(os.hostname()).digest('hex').slice(0, 6);

/**
 * A fresh temporary sibling of `target`: `.<name>.tmp-<host>-<pid>-<random>`, hidden and in the same
 * directory (so the final rename stays on one file system).
 */
export function tempSibling(target: string): string {
  const dir = path.dirname(target);
  return path.join(
    dir,
    `.${path.basename(target)}.tmp-${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`,
  );
}

/** Temp siblings of this module (and of older versions without the host part), with their `.old` twins. */
const TEMP_NAME = /^\..+\.tmp-(?:([0-9a-f]{6})-)?(\d+)-[0-9a-f]{8}(?:\.old)?$/;

/** A temp file untouched for this long is litter even if its pid is alive (pids are reused). */
export const STALE_TEMP_MS = 24 * 3600 * 1000;

/** Whether `pid` is a running process on this host. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove litter that killed writers left in `dir`: entries whose name matches `pattern` (group `pid`,
 * optional group `host`, a hash as in {@link tempSibling}) and whose writer is gone, that is, a dead pid
 * on this host, or no change for {@link STALE_TEMP_MS}. A live writer's temp file is never touched; our own
 * process's are skipped too. Best effort: errors (a racing writer removing the same entry) are ignored.
 *
 * @example
 * ```ts
 * await removeStaleTemps(os.tmpdir(), /^dr-hnsw-(?<pid>\d+)-[0-9a-f]{12}\.bin$/);
 * ```
 */
export async function removeStaleTemps(dir: string, pattern: RegExp = TEMP_NAME): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const now = Date.now();
  for (const name of names) {
    const m = pattern.exec(name);
    if (m === null) continue;
    const host = m.groups?.host ?? (pattern === TEMP_NAME ? m[1] : undefined);
    const pid = Number(m.groups?.pid ?? (pattern === TEMP_NAME ? m[2] : m[1]));
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const full = path.join(dir, name);
    const stat = await fs.lstat(full).catch(() => undefined);
    if (stat === undefined) continue;
    const local = host === undefined || host === HOST;
    const dead = local && !processAlive(pid);
    if (!dead && now - stat.mtimeMs < STALE_TEMP_MS) continue;
    if (name.endsWith('.old')) {
      // Killed between moving the old directory aside and moving the new one in: the `.old` copy is the
      // user's only previous version while the target is missing, so it stays for them to recover.
      const target = path.join(dir, name.slice(1).replace(/\.tmp-[^/]*$/, ''));
      if (
        !(await fs.lstat(target).then(
          () => true,
          () => false,
        ))
      )
        continue;
    }
    try {
      await fs.rm(full, { recursive: true, force: true });
      removed.push(full);
    } catch {
      // another cleaner got there first, or no permission: leave it
    }
  }
  return removed;
}

/** Reasons in words for the file system error codes a write meets. */
const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENAMETOOLONG: 'file name too long',
  EISDIR: 'is a directory, not a file',
};

/** Whether `p` is `base` or inside it. */
function within(p: string, base: string): boolean {
  const rel = path.relative(base, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** The nearest ancestor of `target` (as the caller spelled it) that exists but is not a directory. */
async function fileAncestor(target: string): Promise<string | undefined> {
  for (let p = path.dirname(target); ; p = path.dirname(p)) {
    const st = await fs.lstat(p).catch(() => undefined);
    if (st !== undefined) return st.isDirectory() ? undefined : p;
    if (path.dirname(p) === p) return undefined;
  }
}

/**
 * `error` as a {@link WriteError} naming `target` (the path as the caller gave it) when it is a file system
 * error of writing `target`: its path is `target`, the temp sibling `tmp` or something inside it, or an
 * ancestor directory of `target`. Anything else (an error of the data source, another file's error) is
 * returned unchanged. A `WriteError` about a path inside `tmp` is re-aimed at the same path inside `target`,
 * so an error deep in a staged directory never shows the temp name.
 */
export async function toWriteError(error: unknown, target: string, tmp?: string): Promise<unknown> {
  const abs = path.resolve(target);
  const inTmp = (p: string): string | undefined =>
    tmp !== undefined && within(path.resolve(p), tmp)
      ? path.join(target, path.relative(tmp, path.resolve(p)))
      : undefined;
  if (error instanceof WriteError) {
    const moved = inTmp(error.path);
    return moved === undefined
      ? error
      : new WriteError(moved, error.reason.split(tmp as string).join(target), {
          code: error.code,
          cause: error.cause,
        });
  }
  const err = error as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string' || typeof err.path !== 'string') return error;
  const errPath = path.resolve(err.path);
  const rawDest = (error as { dest?: unknown }).dest;
  const dest = typeof rawDest === 'string' ? path.resolve(rawDest) : undefined;
  const moved = inTmp(err.path);
  const ours = moved !== undefined || errPath === abs || dest === abs || within(abs, errPath);
  if (!ours) return error;
  // Where the failure lies, as the caller would name it: the target, a file of a staged directory, or for a
  // directory that could not be created, that directory.
  const where = moved ?? (errPath === abs || within(abs, errPath) ? target : err.path);
  if (err.code === 'ENOTDIR' || (err.code === 'EEXIST' && err.syscall === 'mkdir')) {
    const file = await fileAncestor(target);
    if (file !== undefined) {
      return new WriteError(target, `${file} is a file, not a directory`, { code: err.code, cause: error });
    }
  }
  const st = await fs.lstat(abs).catch(() => undefined);
  if (
    st?.isDirectory() &&
    ['EISDIR', 'EBUSY', 'ENOTEMPTY', 'EEXIST'].includes(err.code) &&
    tmp !== undefined
  ) {
    return new WriteError(target, 'is a directory, not a file', { code: err.code, cause: error });
  }
  let reason = REASONS[err.code] ?? `${err.code} (${err.syscall ?? 'write'})`;
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    let dir = path.dirname(where);
    if (errPath !== abs && within(abs, errPath)) {
      // A directory on the way could not be created: its parent is the one that refused, as the caller spelled it.
      dir = target;
      for (let up = path.relative(errPath, abs).split(path.sep).length; up >= 0; up--)
        dir = path.dirname(dir);
    }
    reason += ` (cannot create files in ${dir})`;
  } else if (where !== target) reason += ` (${where})`;
  return new WriteError(target, reason, { code: err.code, cause: error });
}

/**
 * Write `data` to `file` atomically (temp file in the same directory, fsync, rename). An iterable of chunks
 * is written chunk by chunk, so a multi-GiB file never needs one buffer of its whole size.
 *
 * @throws {WriteError} naming `file` (never the temp file) when it cannot be written: permission denied,
 *   `file` is a directory, an ancestor of it is a file, no space left, ...; errors the `data` iterable throws
 *   pass through unchanged.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const target = path.resolve(file);
  if ((await fs.lstat(target).catch(() => undefined))?.isDirectory()) {
    throw new WriteError(file, 'is a directory, not a file', { code: 'EISDIR' });
  }
  let tmp: string | undefined;
  try {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await removeStaleTemps(path.dirname(target));
    tmp = tempSibling(target);
    await writeTemp(tmp, data);
    try {
      await fs.rename(tmp, target);
    } catch (error) {
      await fs.rm(tmp, { force: true });
      throw error;
    }
  } catch (error) {
    throw await toWriteError(error, file, tmp);
  }
}

async function writeTemp(
  tmp: string,
  data: string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const handle = await fs.open(tmp, 'w');
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
    else {
      for await (const chunk of data) {
        for (let o = 0; o < chunk.byteLength;) o += (await handle.write(chunk, o)).bytesWritten;
      }
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
}

/**
 * Build a directory atomically: `build` fills a fresh temporary directory, which then replaces `dir`.
 * An existing `dir` is moved aside first and removed only after the new one is in place.
 *
 * @throws {WriteError} naming `dir` (or the file inside it, never the temp directory) when it cannot be
 *   written, including when `dir` exists as a file (a file is never replaced by a directory); other errors
 *   of `build` pass through unchanged.
 */
export async function writeDirAtomic(dir: string, build: (tmpDir: string) => Promise<void>): Promise<void> {
  const target = path.resolve(dir);
  const existing = await fs.lstat(target).catch(() => undefined);
  if (existing !== undefined && !existing.isDirectory()) {
    throw new WriteError(dir, 'exists and is a file, not a directory', { code: 'ENOTDIR' });
  }
  let tmp: string | undefined;
  try {
    await fs.mkdir(path.dirname(target), { recursive: true });
    await removeStaleTemps(path.dirname(target));
    tmp = tempSibling(target);
    await fs.mkdir(tmp);
    try {
      await build(tmp);
    } catch (error) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw error;
    }
    let old: string | undefined;
    try {
      await fs.access(target);
      old = `${tmp}.old`;
      await fs.rename(target, old);
    } catch {
      old = undefined;
    }
    try {
      await fs.rename(tmp, target);
    } catch (error) {
      if (old !== undefined) await fs.rename(old, target).catch(() => undefined); // put the old one back
      await fs.rm(tmp, { recursive: true, force: true });
      throw error;
    }
    if (old !== undefined) await fs.rm(old, { recursive: true, force: true });
  } catch (error) {
    throw await toWriteError(error, dir, tmp);
  }
}
