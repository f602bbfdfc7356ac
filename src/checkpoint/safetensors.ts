import { promises as fs } from 'node:fs';
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
    if (littleEndian && bytes.byteOffset % 4 === 0) {
      // A view on the file buffer: no copy per tensor.
      return new Float32Array(bytes.buffer, bytes.byteOffset, n);
    }
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

/**
 * Read every tensor of a safetensors file as float32 (F32, F16, BF16; also F64 and integer tensors such as
 * the I64 `position_ids` buffer some checkpoints carry). The file is read
 * once; F32 tensors are views into that buffer where alignment allows. Malformed headers, unsupported dtypes,
 * inconsistent shapes and truncated files are {@link InputFormatError}s naming the file and tensor.
 *
 * @example
 * ```ts
 * const tensors = await readSafetensors('model/model.safetensors');
 * const emb = tensors.get('embeddings.word_embeddings.weight'); // { dtype: 'F32', shape: [30522, 384], data }
 * ```
 */
export async function readSafetensors(file: string): Promise<Map<string, SafetensorsTensor>> {
  const buf = await fs.readFile(file);
  if (buf.byteLength < 8)
    throw new InputFormatError(`not a safetensors file (${buf.byteLength} bytes)`, file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen > MAX_HEADER) {
    throw new InputFormatError(`not a safetensors file (header length ${headerLen} is implausible)`, file);
  }
  if (8 + headerLen > buf.byteLength) {
    throw new InputFormatError(
      `truncated safetensors file: header needs ${headerLen} bytes but only ${buf.byteLength - 8} follow`,
      file,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 8, 8 + headerLen));
  } catch (error) {
    throw new InputFormatError(`safetensors header is not valid JSON (${(error as Error).message})`, file);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new InputFormatError('safetensors header is not a JSON object', file);
  }
  const dataStart = 8 + headerLen;
  const dataLen = buf.byteLength - dataStart;
  const out = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e === null || typeof e !== 'object')
      throw new InputFormatError(`tensor ${name}: header entry is not an object`, file);
    const { dtype, shape, data_offsets: offsets } = e;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      throw new InputFormatError(
        `tensor ${name}: unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`,
        file,
      );
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new InputFormatError(
        `tensor ${name}: shape ${JSON.stringify(shape)} is not a list of sizes`,
        file,
      );
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
      offsets[1] < offsets[0]
    ) {
      throw new InputFormatError(`tensor ${name}: bad data_offsets ${JSON.stringify(offsets)}`, file);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = count * DTYPE_BYTES[dtype];
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
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset + dataStart + begin, end - begin);
    out.set(name, { dtype, shape: (shape as number[]).slice(), data: convert(dtype, bytes) });
  }
  return out;
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
