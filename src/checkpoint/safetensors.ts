import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import { InputFormatError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length
 * N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {..}}`, then the raw
 * little-endian tensor bytes, offsets relative to the end of the header. Written by hand: the format is
 * tiny and the npm packages for it are either browser-oriented or unmaintained.
 */

/** A tensor read from a safetensors file, converted to float32 (integer buffers included). */
export interface SafetensorsTensor {
  /** The dtype stored in the file (`F32`, `F16`, `BF16`). */
  dtype: string;
  shape: number[];
  data: Float32Array;
}

/** A float32 tensor to write. */
export interface SafetensorsInput {
  shape: number[];
  data: Float32Array;
}

// Integer and F64 tensors are read too: checkpoints carry buffers such as `embeddings.position_ids` (I64),
// and refusing them would refuse the whole file.
const DTYPE_BYTES: Record<string, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F64: 8,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

// The spec caps the header at 100 MB; a larger length means a corrupt file, not a big model.
const MAX_HEADER = 100_000_000;

const littleEndian = os.endianness() === 'LE';

/** IEEE half -> float, covering subnormals, infinities and NaN. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

let halfTable: Float32Array | undefined;

function convert(dtype: string, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === 'F32') {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
    return out;
  }
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    case 'I64':
      for (let i = 0; i < n; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      return out;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
      return out;
    case 'I16':
      for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
      return out;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
      return out;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < n; i++) out[i] = view.getUint8(i);
      return out;
  }
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32.
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = view.getUint16(i * 2, true) << 16;
    return out;
  }
  if (halfTable === undefined) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  for (let i = 0; i < n; i++) out[i] = halfTable[view.getUint16(i * 2, true)];
  return out;
}

/** Options of {@link readSafetensors}. */
export interface ReadSafetensorsOptions {
  /**
   * Read only these tensors (the header is still validated in full). Names the file does not have are
   * an error. Lets a caller take a few tensors out of a file larger than memory.
   */
  tensors?: string[];
}

// One read(2) moves at most 2 GiB - 1 bytes; reading in 1 GiB pieces keeps files over 2 GiB working.
const READ_CHUNK = 1 << 30;

/** A header entry after validation. */
interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Validate a parsed header against the format's rules and the data length: every field typed, byte
 * counts consistent with dtype and shape (without overflow), and the tensors tiling the data exactly, with
 * no overlap, gap or trailing bytes (as the reference implementation requires).
 */
function validateHeader(header: unknown, dataLen: number, file: string): Entry[] {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new InputFormatError('safetensors header is not a JSON object', file);
  }
  const entries: Entry[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new InputFormatError('__metadata__ is not a JSON object', file);
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object' || Array.isArray(e))
      throw new InputFormatError(`tensor ${name}: header entry is not an object`, file);
    const { dtype, shape, data_offsets: offsets } = e;
    if (typeof dtype !== 'string' || !Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype)) {
      throw new InputFormatError(
        `tensor ${name}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`,
        file,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InputFormatError(
        `tensor ${name}: shape ${JSON.stringify(shape)} is not a list of sizes`,
        file,
      );
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[1] < offsets[0]
    ) {
      throw new InputFormatError(`tensor ${name}: bad data_offsets ${JSON.stringify(offsets)}`, file);
    }
    const [begin, end] = offsets as [number, number];
    // The product is checked step by step: a shape such as [1e9, 1e9] must not round to a plausible size.
    let expected = DTYPE_BYTES[dtype];
    for (const d of shape as number[]) {
      expected *= d;
      if (!Number.isSafeInteger(expected)) {
        throw new InputFormatError(
          `tensor ${name}: shape ${JSON.stringify(shape)} is implausibly large`,
          file,
        );
      }
    }
    if (end - begin !== expected) {
      throw new InputFormatError(
        `tensor ${name}: shape [${(shape as number[]).join(', ')}] ${dtype} needs ${expected} bytes but data_offsets span ${end - begin}`,
        file,
      );
    }
    if (end > dataLen) {
      throw new InputFormatError(
        `truncated safetensors file: tensor ${name} ends at byte ${end} of the data but only ${dataLen} bytes are present`,
        file,
      );
    }
    entries.push({ name, dtype, shape: (shape as number[]).slice(), begin, end });
  }
  // The tensors must tile the data: sorted by offset, each starts where the previous ended.
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.begin < pos) {
      throw new InputFormatError(
        `tensors ${prev!.name} [${prev!.begin}, ${prev!.end}) and ${e.name} [${e.begin}, ${e.end}) overlap in data_offsets`,
        file,
      );
    }
    if (e.begin > pos) {
      throw new InputFormatError(
        `gap of ${e.begin - pos} bytes in the data before tensor ${e.name} (data_offsets [${e.begin}, ${e.end})` +
          `${prev ? `, previous tensor ${prev.name} ends at ${prev.end}` : ''})`,
        file,
      );
    }
    pos = e.end;
    prev = e;
  }
  if (pos !== dataLen) {
    throw new InputFormatError(
      `${dataLen - pos} trailing bytes after the last tensor${prev ? ` (${prev.name} ends at ${pos})` : ''}; ` +
        `the data is ${dataLen} bytes`,
      file,
    );
  }
  return entries;
}

/** Read `length` bytes at `position` into `into`, in pieces (one read moves at most 2 GiB). */
async function readFully(
  handle: FileHandle,
  into: Uint8Array,
  position: number,
  file: string,
): Promise<void> {
  let done = 0;
  while (done < into.byteLength) {
    const want = Math.min(READ_CHUNK, into.byteLength - done);
    const { bytesRead } = await handle.read(into, done, want, position + done);
    if (bytesRead === 0) {
      throw new InputFormatError(`file ended at byte ${position + done} while reading tensor data`, file);
    }
    done += bytesRead;
  }
}

/**
 * Read the tensors of a safetensors file as float32 (F32, F16, BF16; also F64 and integer tensors such as
 * the I64 `position_ids` buffer some checkpoints carry). The header is validated in full before anything
 * is allocated: header length against the file size, every dtype, shape and offset, and the tensors tiling
 * the data exactly (overlaps, gaps and trailing bytes are refused, as the format requires). Tensor data is
 * read with positioned reads in 1 GiB pieces, so files over 2 GiB work; with `options.tensors` only those
 * tensors are read.
 *
 * @throws {InputFormatError} naming the file and the tensor(s) for any malformed or truncated file.
 * @example
 * ```ts
 * const tensors = await readSafetensors('model/model.safetensors');
 * const emb = tensors.get('embeddings.word_embeddings.weight'); // { dtype: 'F32', shape: [30522, 384], data }
 * const one = await readSafetensors('big.safetensors', { tensors: ['pooler.dense.bias'] });
 * ```
 */
export async function readSafetensors(
  file: string,
  options: ReadSafetensorsOptions = {},
): Promise<Map<string, SafetensorsTensor>> {
  let handle: FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputFormatError(code === 'ENOENT' ? 'file not found' : `cannot open (${code})`, file);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new InputFormatError('not a regular file', file);
    const size = stat.size;
    if (size < 8) throw new InputFormatError(`not a safetensors file (${size} bytes)`, file);
    const prefix = Buffer.alloc(8);
    await readFully(handle, prefix, 0, file);
    const headerLen64 = prefix.readBigUInt64LE(0);
    if (headerLen64 > BigInt(MAX_HEADER)) {
      throw new InputFormatError(
        `not a safetensors file (header length ${headerLen64} is implausible)`,
        file,
      );
    }
    const headerLen = Number(headerLen64);
    if (8 + headerLen > size) {
      throw new InputFormatError(
        `truncated safetensors file: header needs ${headerLen} bytes but only ${size - 8} follow`,
        file,
      );
    }
    const headerBytes = Buffer.alloc(headerLen);
    await readFully(handle, headerBytes, 8, file);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
    } catch {
      throw new InputFormatError('safetensors header is not valid UTF-8', file);
    }
    let header: unknown;
    try {
      header = JSON.parse(text);
    } catch (error) {
      throw new InputFormatError(`safetensors header is not valid JSON (${(error as Error).message})`, file);
    }
    const dataStart = 8 + headerLen;
    const entries = validateHeader(header, size - dataStart, file);
    let wanted = entries;
    if (options.tensors !== undefined) {
      const byName = new Map(entries.map((e) => [e.name, e]));
      const missing = options.tensors.filter((n) => !byName.has(n));
      if (missing.length > 0) {
        throw new InputFormatError(`no tensor named ${missing.join(', ')}`, file);
      }
      wanted = options.tensors.map((n) => byName.get(n)!);
    }
    const out = new Map<string, SafetensorsTensor>();
    for (const e of wanted) {
      const bytes = e.end - e.begin;
      let data: Float32Array;
      if (e.dtype === 'F32' && littleEndian) {
        // Read straight into the float32 array: no second copy of the largest tensors.
        data = new Float32Array(bytes / 4);
        await readFully(handle, new Uint8Array(data.buffer), dataStart + e.begin, file);
      } else {
        const raw = new Uint8Array(bytes);
        await readFully(handle, raw, dataStart + e.begin, file);
        data = convert(e.dtype, raw);
      }
      out.set(e.name, { dtype: e.dtype, shape: e.shape, data });
    }
    return out;
  } finally {
    await handle.close();
  }
}

/**
 * Write float32 tensors as a safetensors file, atomically. The header is padded with spaces to a multiple
 * of 8 bytes (as the reference implementation does) so readers can map the data aligned; tensors are laid out
 * in name order.
 *
 * @example
 * ```ts
 * await writeSafetensors('out/model.safetensors', new Map([['w', { shape: [2, 2], data: new Float32Array(4) }]]),
 *   { format: 'pt' });
 * ```
 */
export async function writeSafetensors(
  file: string,
  tensors: Map<string, SafetensorsInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new InputFormatError(
        `tensor ${name}: shape [${t.shape.join(', ')}] has ${count} elements but data has ${t.data.length}`,
        file,
      );
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + json.byteLength + offset);
  out.writeBigUInt64LE(BigInt(json.byteLength), 0);
  json.copy(out, 8);
  let pos = 8 + json.byteLength;
  for (const name of names) {
    const { data } = tensors.get(name)!;
    if (littleEndian) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), pos);
    } else {
      for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], pos + i * 4);
    }
    pos += data.byteLength;
  }
  await writeFileAtomic(file, out);
}
