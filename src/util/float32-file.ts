import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { InputFormatError } from '../errors.js';

const READ_CHUNK = 1 << 30;

/**
 * Raw float32 files of training checkpoints (`weights.bin`, `optimizer.bin`) and the JSON index that
 * says where each tensor lies. Every field is checked before anything is allocated or assigned, so a
 * truncated or hand-edited checkpoint is an {@link InputFormatError} naming the file, never a RangeError
 * from deep inside tfjs.
 */

/** One tensor of a float32 file, as its JSON index lists it. */
export interface Float32Entry {
  name: string;
  shape: number[];
  /** Offset in float32 elements. */
  offset: number;
}

/** sha256 (hex) of the bytes of `data`, stored next to a float32 file so a corrupted copy is detected. */
export function float32Sha256(data: Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    .digest('hex');
}

/**
 * Read a little-endian float32 file whole. With `sha256`, the bytes must hash to it.
 *
 * @throws {InputFormatError} for a missing file, a length that is not a multiple of 4, or a checksum mismatch.
 * @example
 * ```ts
 * const all = await readFloat32File('runs/x/checkpoints/step-00000100/weights.bin');
 * ```
 */
export async function readFloat32File(file: string, sha256?: string): Promise<Float32Array> {
  let handle: FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputFormatError(code === 'ENOENT' ? 'missing' : `cannot read (${code})`, file);
  }
  try {
    const size = (await handle.stat()).size;
    if (size % 4 !== 0) {
      throw new InputFormatError(`${size} bytes is not a whole number of float32 values (truncated?)`, file);
    }
    // Read straight into the result in 1 GiB pieces: one fs.readFile stops at 2 GiB.
    const all = new Float32Array(size / 4);
    const bytes = new Uint8Array(all.buffer);
    let done = 0;
    while (done < size) {
      const { bytesRead } = await handle.read(bytes, done, Math.min(READ_CHUNK, size - done), done);
      if (bytesRead === 0) throw new InputFormatError(`file shrank to ${done} bytes while being read`, file);
      done += bytesRead;
    }
    if (sha256 !== undefined && float32Sha256(all) !== sha256) {
      throw new InputFormatError(
        'content does not match the sha256 recorded when it was written (corrupt copy?)',
        file,
      );
    }
    return all;
  } finally {
    await handle.close();
  }
}

/**
 * Validate the entries of a JSON index against a float32 file of `total` elements: names, integer shapes
 * and offsets, each tensor (times `copies`, e.g. 2 for AdamW's m and v) inside the file, and together
 * covering it exactly (a truncated file, or trailing data, is refused). Returns each entry's element count.
 *
 * @throws {InputFormatError} naming `indexFile` and the entry.
 * @example
 * ```ts
 * const sizes = checkFloat32Entries(entries, all.length, 'weights.json', 'weights.bin');
 * ```
 */
export function checkFloat32Entries(
  entries: unknown,
  total: number,
  indexFile: string,
  dataName: string,
  copies = 1,
): number[] {
  if (!Array.isArray(entries)) throw new InputFormatError('expected a list of tensors', indexFile);
  let covered = 0;
  const sizes = entries.map((raw: unknown, i) => {
    const e = raw as Partial<Float32Entry> | null;
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string') {
      throw new InputFormatError(`entry #${i} has no "name"`, indexFile);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InputFormatError(
        `'${e.name}': shape ${JSON.stringify(e.shape)} is not a list of sizes`,
        indexFile,
      );
    }
    if (!Number.isSafeInteger(e.offset) || (e.offset as number) < 0) {
      throw new InputFormatError(
        `'${e.name}': offset ${JSON.stringify(e.offset)} is not a non-negative integer`,
        indexFile,
      );
    }
    const size = e.shape.reduce((a: number, b: number) => a * b, 1);
    const end = (e.offset as number) + copies * size;
    if (!Number.isSafeInteger(end) || end > total) {
      throw new InputFormatError(
        `'${e.name}' needs float32 values up to ${end} but ${dataName} has ${total} (truncated?)`,
        indexFile,
      );
    }
    covered += copies * size;
    return size;
  });
  if (covered !== total) {
    throw new InputFormatError(
      `the tensors listed cover ${covered} float32 values but ${dataName} has ${total}`,
      indexFile,
    );
  }
  return sizes;
}
