import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { InputFormatError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * The on-disk envelope shared by every index: an 8-byte magic, a format version, a JSON header and named
 * binary sections whose lengths (and, from version 2, sha256 digests) the header records, so a file from
 * another version, a truncated file or a flipped bit is recognised before any of it is interpreted.
 *
 * Version 2 (written): `DRINDEX\n` | u32 LE version | u32 LE header length | sha256 of the header JSON
 * (32 bytes) | header JSON (utf8) | sections..., each section listed in the header as
 * `{ name, bytes, sha256 }`.
 * Version 1 (still read): the same without the header digest and the section digests; such files are loaded
 * through the same structural validation, but a bit flip inside a section's payload is not detected (save
 * the index again to upgrade it).
 *
 * Files are read by file handle in chunks, never with one `readFile`, so files past 2 GiB load; a section is
 * read into its own `ArrayBuffer`, so a float32 section is viewed, not copied.
 */

const MAGIC = Buffer.from('DRINDEX\n', 'latin1');

/** Bumped whenever the layout or a section's meaning changes. Version 1 files are still read. */
export const INDEX_FORMAT_VERSION = 2;

/** Oldest format version this library reads. */
const OLDEST_READ_VERSION = 1;

/** The header is metadata only: anything larger is corrupt, whatever the file size. */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;

/** V8's longest string is ~2^29 characters: a JSON section past it cannot be decoded in one piece. */
const MAX_JSON_SECTION_BYTES = 2 ** 29 - 24;

/** Bytes per read/write/hash call: bounded so no single call nears the 2 GiB I/O limit. */
let chunkBytes = 64 * 1024 * 1024;

/** Test hook: a small chunk size exercises the multi-chunk paths on small files. */
export function setContainerChunkBytes(bytes: number): void {
  chunkBytes = bytes;
}

export type IndexKind = 'exact' | 'hnsw' | 'bm25' | 'int8' | 'binary';
const KINDS: readonly IndexKind[] = ['exact', 'hnsw', 'bm25', 'int8', 'binary'];

export interface ContainerHeader {
  kind: IndexKind;
  [key: string]: unknown;
}

interface SectionEntry {
  name: string;
  bytes: number;
  sha256?: string;
}

/** One section of a loaded container: its own buffer (never shared), so typed-array views are aligned. */
export interface Section {
  readonly name: string;
  readonly buffer: ArrayBuffer;
}

/** What {@link readContainer} returns. */
export interface Container {
  header: ContainerHeader;
  /** Format version of the file (1 has no checksums). */
  version: number;
  sections: Map<string, Section>;
}

function sha256Hex(parts: Iterable<Uint8Array>): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Chunk views of `data` (hashing or writing a multi-GiB view in one call is avoided). */
function* chunksOf(data: ArrayBufferView): Generator<Uint8Array> {
  for (let o = 0; o < data.byteLength; o += chunkBytes) {
    yield new Uint8Array(data.buffer, data.byteOffset + o, Math.min(chunkBytes, data.byteLength - o));
  }
}

/**
 * Write `header` and `sections` to `file` atomically (format version {@link INDEX_FORMAT_VERSION}). A
 * section is any typed-array view, so a float32 store of more than 4 GiB is written without a byte copy.
 */
export async function writeContainer(
  file: string,
  header: ContainerHeader,
  sections: Record<string, ArrayBufferView>,
): Promise<void> {
  const names = Object.keys(sections);
  const entries: SectionEntry[] = names.map((name) => ({
    name,
    bytes: sections[name].byteLength,
    sha256: sha256Hex(chunksOf(sections[name])),
  }));
  const json = Buffer.from(JSON.stringify({ ...header, sections: entries }), 'utf8');
  const fixed = Buffer.alloc(16);
  MAGIC.copy(fixed, 0);
  fixed.writeUInt32LE(INDEX_FORMAT_VERSION, 8);
  fixed.writeUInt32LE(json.length, 12);
  const digest = createHash('sha256').update(json).digest();
  function* parts(): Generator<Uint8Array> {
    yield fixed;
    yield digest;
    yield json;
    for (const n of names) yield* chunksOf(sections[n]);
  }
  // Streamed: Buffer.concat of every section would double the memory and stop at 4 GiB.
  await writeFileAtomic(file, parts());
}

/** Fill `target` from `position` of the open file, in chunks; a short read is a truncated file. */
async function readFully(
  handle: fs.FileHandle,
  target: Uint8Array,
  position: number,
  file: string,
  hash?: ReturnType<typeof createHash>,
): Promise<void> {
  for (let o = 0; o < target.byteLength;) {
    const len = Math.min(chunkBytes, target.byteLength - o);
    const { bytesRead } = await handle.read(target, o, len, position + o);
    if (bytesRead === 0) throw new InputFormatError('truncated index file (file shrank while reading)', file);
    hash?.update(target.subarray(o, o + bytesRead));
    o += bytesRead;
  }
}

/** A whole file in chunked reads (`fs.readFile` stops at 2 GiB); up to 4 GiB. */
export async function readFileChunked(file: string): Promise<Uint8Array> {
  const handle = await fs.open(file, 'r');
  try {
    const out = new Uint8Array((await handle.stat()).size);
    await readFully(handle, out, 0, file);
    return out;
  } finally {
    await handle.close();
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Header and section table of an open container, validated against the file size before any allocation. */
async function readHeader(
  handle: fs.FileHandle,
  file: string,
): Promise<{ header: ContainerHeader; version: number; entries: SectionEntry[]; dataStart: number }> {
  const stat = await handle.stat();
  // Opening a directory succeeds; reading it fails with a bare EISDIR.
  if (stat.isDirectory()) throw new InputFormatError('is a directory, not an index file', file);
  const size = stat.size;
  const fixed = Buffer.alloc(16);
  if (size >= 16) await readFully(handle, fixed, 0, file);
  if (size < 16 || !fixed.subarray(0, 8).equals(MAGIC)) {
    throw new InputFormatError('not a dense-retrieval index file (bad magic)', file);
  }
  const version = fixed.readUInt32LE(8);
  if (version < OLDEST_READ_VERSION || version > INDEX_FORMAT_VERSION) {
    throw new InputFormatError(
      `index format version ${version} is not supported (this version of dense-retrieval reads versions ${OLDEST_READ_VERSION}-${INDEX_FORMAT_VERSION}); rebuild the index`,
      file,
    );
  }
  const headerLen = fixed.readUInt32LE(12);
  const digestLen = version >= 2 ? 32 : 0;
  const headerStart = 16 + digestLen;
  if (headerLen > size - headerStart || headerLen > MAX_HEADER_BYTES) {
    throw new InputFormatError(
      `truncated index file: header length ${headerLen} exceeds the ${Math.max(0, size - headerStart)} bytes after the fixed part`,
      file,
    );
  }
  const raw = Buffer.alloc(digestLen + headerLen);
  await readFully(handle, raw, 16, file);
  const json = raw.subarray(digestLen);
  if (version >= 2 && !createHash('sha256').update(json).digest().equals(raw.subarray(0, 32))) {
    throw new InputFormatError('corrupt index file: header checksum mismatch', file);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch {
    throw new InputFormatError('corrupt index file (header is not valid JSON)', file);
  }
  if (!isPlainObject(parsed)) throw new InputFormatError('corrupt index file: header is not an object', file);
  if (!(KINDS as readonly unknown[]).includes(parsed.kind)) {
    throw new InputFormatError(
      `corrupt index file: header field 'kind' must be one of ${KINDS.join(', ')}, got ${JSON.stringify(parsed.kind)}`,
      file,
    );
  }
  const list = parsed.sections;
  if (!Array.isArray(list)) {
    throw new InputFormatError(
      `corrupt index file: header field 'sections' must be a list, got ${JSON.stringify(list)}`,
      file,
    );
  }
  const entries: SectionEntry[] = [];
  const names = new Set<string>();
  let total = headerStart + headerLen;
  list.forEach((e: unknown, i) => {
    const where = `header field 'sections[${i}]'`;
    if (!isPlainObject(e)) throw new InputFormatError(`corrupt index file: ${where} is not an object`, file);
    const { name, bytes, sha256 } = e;
    if (typeof name !== 'string' || name === '' || names.has(name)) {
      throw new InputFormatError(`corrupt index file: ${where}.name must be a new non-empty string`, file);
    }
    if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes < 0) {
      throw new InputFormatError(
        `corrupt index file: ${where}.bytes must be a non-negative integer, got ${JSON.stringify(bytes)}`,
        file,
      );
    }
    if (version >= 2 && (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))) {
      throw new InputFormatError(`corrupt index file: ${where}.sha256 must be 64 hex digits`, file);
    }
    if (total + bytes > size) {
      throw new InputFormatError(
        `truncated index file: section '${name}' needs ${bytes} bytes, ${size - total} left`,
        file,
      );
    }
    names.add(name);
    entries.push({ name, bytes, sha256: sha256 as string | undefined });
    total += bytes;
  });
  if (total !== size) {
    throw new InputFormatError(`corrupt index file: ${size - total} unexpected trailing bytes`, file);
  }
  const { sections: _omit, ...header } = parsed;
  return { header: header as ContainerHeader, version, entries, dataStart: headerStart + headerLen };
}

/**
 * The header of an index file (kind and parameters), read without its sections: magic, version, header
 * checksum, schema of the section table and the stated lengths against the file size are all checked.
 */
export async function readContainerHeader(file: string): Promise<ContainerHeader> {
  const handle = await fs.open(file, 'r');
  try {
    return (await readHeader(handle, file)).header;
  } finally {
    await handle.close();
  }
}

/**
 * Read a container, checking magic, version, expected kind, that every stated length fits the file, and
 * (version 2) the sha256 of the header and of every section. Errors are {@link InputFormatError}s naming
 * the file.
 */
export async function readContainer(file: string, expected?: IndexKind): Promise<Container> {
  const handle = await fs.open(file, 'r');
  try {
    const { header, version, entries, dataStart } = await readHeader(handle, file);
    if (expected !== undefined && header.kind !== expected) {
      throw new InputFormatError(`index file holds a '${header.kind}' index, expected '${expected}'`, file);
    }
    const sections = new Map<string, Section>();
    let offset = dataStart;
    for (const { name, bytes, sha256 } of entries) {
      let buffer: ArrayBuffer;
      try {
        buffer = new ArrayBuffer(bytes);
      } catch {
        throw new InputFormatError(
          `cannot allocate ${bytes} bytes for section '${name}' (not enough memory)`,
          file,
        );
      }
      const hash = sha256 === undefined ? undefined : createHash('sha256');
      for (let o = 0; o < bytes; o += chunkBytes) {
        const part = new Uint8Array(buffer, o, Math.min(chunkBytes, bytes - o));
        await readFully(handle, part, offset + o, file, hash);
      }
      if (hash !== undefined && hash.digest('hex') !== sha256) {
        throw new InputFormatError(`corrupt index file: checksum mismatch in section '${name}'`, file);
      }
      sections.set(name, { name, buffer });
      offset += bytes;
    }
    return { header, version, sections };
  } finally {
    await handle.close();
  }
}

/** A section by name, or an error naming it and the file. */
export function requireSection(sections: Map<string, Section>, name: string, file: string): Section {
  const s = sections.get(name);
  if (s === undefined) throw new InputFormatError(`corrupt index file: section '${name}' missing`, file);
  return s;
}

/** The bytes of a section (a view, no copy). */
export function sectionBytes(section: Section, file: string): Uint8Array {
  if (section.buffer.byteLength > 2 ** 32) {
    throw new InputFormatError(`section '${section.name}' is larger than 4 GiB of bytes`, file);
  }
  return new Uint8Array(section.buffer);
}

/** A section of little-endian float32 values, viewed without a copy. */
export function sectionFloat32(section: Section, file: string): Float32Array {
  if (section.buffer.byteLength % 4 !== 0) {
    throw new InputFormatError(`corrupt index file: section '${section.name}' is not whole float32s`, file);
  }
  return new Float32Array(section.buffer);
}

/** A section of little-endian int32 values, viewed without a copy. */
export function sectionInt32(section: Section, file: string): Int32Array {
  if (section.buffer.byteLength % 4 !== 0) {
    throw new InputFormatError(`corrupt index file: section '${section.name}' is not whole int32s`, file);
  }
  return new Int32Array(section.buffer);
}

/** A section holding a JSON value. */
export function jsonSection(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Parse a JSON section (strict UTF-8), naming the section and the file if it is corrupt. */
export function parseJsonSection(sections: Map<string, Section>, name: string, file: string): unknown {
  const s = requireSection(sections, name, file);
  if (s.buffer.byteLength > MAX_JSON_SECTION_BYTES) {
    throw new InputFormatError(`section '${name}' is too large to decode as JSON`, file);
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(s.buffer)));
  } catch {
    throw new InputFormatError(`corrupt index file: section '${name}' is not valid JSON`, file);
  }
}

/**
 * A JSON section that must be a list of document ids: strings, unique, non-empty and without whitespace
 * (a TREC run cannot carry them), `count` of them.
 */
export function parseIdsSection(
  sections: Map<string, Section>,
  name: string,
  count: number,
  file: string,
  /** Rows whose (stale) ids need not be unique: an HNSW index's removed rows keep their old id. */
  stale?: ReadonlySet<number>,
): string[] {
  const ids = parseJsonSection(sections, name, file);
  if (!Array.isArray(ids) || ids.length !== count) {
    throw new InputFormatError(
      `corrupt index file: section '${name}' must list ${count} ids (the header's size)`,
      file,
    );
  }
  const seen = new Set<string>();
  for (let i = 0; i < ids.length; i++) {
    const id: unknown = ids[i];
    if (typeof id !== 'string' || id === '' || /\s/.test(id)) {
      throw new InputFormatError(
        `corrupt index file: id ${i} in section '${name}' is ${JSON.stringify(id)}, not a non-empty string without whitespace`,
        file,
      );
    }
    if (stale?.has(i) === true) continue;
    if (seen.has(id)) {
      throw new InputFormatError(`corrupt index file: duplicate id '${id}' in section '${name}'`, file);
    }
    seen.add(id);
  }
  return ids as string[];
}

/** Typed readers of header fields: each error names the file and the field. */
export const headerField = {
  int(header: ContainerHeader, key: string, file: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = header[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      throw new InputFormatError(
        `corrupt index header: field '${key}' must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`,
        file,
      );
    }
    return v;
  },
  number(header: ContainerHeader, key: string, file: string, min = -Infinity, max = Infinity): number {
    const v = header[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new InputFormatError(
        `corrupt index header: field '${key}' must be a finite number in [${min}, ${max}], got ${JSON.stringify(v)}`,
        file,
      );
    }
    return v;
  },
  bool(header: ContainerHeader, key: string, file: string): boolean {
    const v = header[key];
    if (typeof v !== 'boolean') {
      throw new InputFormatError(
        `corrupt index header: field '${key}' must be true or false, got ${JSON.stringify(v)}`,
        file,
      );
    }
    return v;
  },
  choice<T extends string>(header: ContainerHeader, key: string, file: string, allowed: readonly T[]): T {
    const v = header[key];
    if (!(allowed as readonly unknown[]).includes(v)) {
      throw new InputFormatError(
        `corrupt index header: field '${key}' must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`,
        file,
      );
    }
    return v as T;
  },
};
