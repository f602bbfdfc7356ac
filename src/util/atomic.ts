import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

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

/**
 * Write `data` to `file` atomically (temp file in the same directory, fsync, rename). An iterable of chunks
 * is written chunk by chunk, so a multi-GiB file never needs one buffer of its whole size.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await removeStaleTemps(path.dirname(path.resolve(file)));
  const tmp = tempSibling(path.resolve(file));
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
  try {
    await fs.rename(tmp, file);
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
}

/**
 * Build a directory atomically: `build` fills a fresh temporary directory, which then replaces `dir`.
 * An existing `dir` is moved aside first and removed only after the new one is in place.
 */
export async function writeDirAtomic(dir: string, build: (tmpDir: string) => Promise<void>): Promise<void> {
  const target = path.resolve(dir);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await removeStaleTemps(path.dirname(target));
  const tmp = tempSibling(target);
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
  await fs.rename(tmp, target);
  if (old !== undefined) await fs.rm(old, { recursive: true, force: true });
}
