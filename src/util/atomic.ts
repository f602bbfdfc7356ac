import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Atomic writes: data goes to a temporary sibling first and is renamed over the target only once it is
 * complete and flushed, so a process killed midway leaves either the old file or the new one, never half.
 */

function tempSibling(target: string): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
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
