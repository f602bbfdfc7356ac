import { promises as fs } from 'node:fs';
import { InputFormatError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * The on-disk envelope shared by every index: an 8-byte magic, a format version, a JSON header and named
 * binary sections whose lengths the header records, so a file from another version or a truncated file is
 * recognised before any of it is interpreted.
 *
 * Layout: `DRINDEX\n` | u32 LE format version | u32 LE header length | header JSON (utf8) | sections...
 */

const MAGIC = Buffer.from('DRINDEX\n', 'latin1');

/** Bumped whenever the layout or a section's meaning changes; older/newer files are refused. */
export const INDEX_FORMAT_VERSION = 1;

export type IndexKind = 'exact' | 'hnsw' | 'bm25' | 'int8' | 'binary';

export interface ContainerHeader {
  kind: IndexKind;
  [key: string]: unknown;
}

interface StoredHeader extends ContainerHeader {
  sections: { name: string; bytes: number }[];
}

/** Write `header` and `sections` to `file` atomically. */
export async function writeContainer(
  file: string,
  header: ContainerHeader,
  sections: Record<string, Uint8Array>,
): Promise<void> {
  const names = Object.keys(sections);
  const stored: StoredHeader = {
    ...header,
    sections: names.map((name) => ({ name, bytes: sections[name].byteLength })),
  };
  const json = Buffer.from(JSON.stringify(stored), 'utf8');
  const fixed = Buffer.alloc(16);
  MAGIC.copy(fixed, 0);
  fixed.writeUInt32LE(INDEX_FORMAT_VERSION, 8);
  fixed.writeUInt32LE(json.length, 12);
  const parts = [fixed, json, ...names.map((n) => sections[n])];
  await writeFileAtomic(file, Buffer.concat(parts));
}

/** Read a container, checking magic, version, expected kind and that every section is complete. */
export async function readContainer(
  file: string,
  expected?: IndexKind,
): Promise<{ header: ContainerHeader; sections: Map<string, Buffer> }> {
  const buf = await fs.readFile(file);
  if (buf.length < 16 || !buf.subarray(0, 8).equals(MAGIC)) {
    throw new InputFormatError('not a dense-retrieval index file (bad magic)', file);
  }
  const version = buf.readUInt32LE(8);
  if (version !== INDEX_FORMAT_VERSION) {
    throw new InputFormatError(
      `index format version ${version} is not supported (this version of dense-retrieval reads version ${INDEX_FORMAT_VERSION}); rebuild the index`,
      file,
    );
  }
  const headerLen = buf.readUInt32LE(12);
  if (buf.length < 16 + headerLen) throw new InputFormatError('truncated index file (header)', file);
  let header: StoredHeader;
  try {
    header = JSON.parse(buf.subarray(16, 16 + headerLen).toString('utf8')) as StoredHeader;
  } catch {
    throw new InputFormatError('corrupt index file (header is not valid JSON)', file);
  }
  if (expected !== undefined && header.kind !== expected) {
    throw new InputFormatError(`index file holds a '${header.kind}' index, expected '${expected}'`, file);
  }
  const sections = new Map<string, Buffer>();
  let offset = 16 + headerLen;
  for (const { name, bytes } of header.sections ?? []) {
    if (offset + bytes > buf.length) {
      throw new InputFormatError(
        `truncated index file: section '${name}' needs ${bytes} bytes, ${Math.max(0, buf.length - offset)} left`,
        file,
      );
    }
    sections.set(name, buf.subarray(offset, offset + bytes));
    offset += bytes;
  }
  if (offset !== buf.length) {
    throw new InputFormatError(`corrupt index file: ${buf.length - offset} unexpected trailing bytes`, file);
  }
  const { sections: _omit, ...rest } = header;
  return { header: rest as ContainerHeader, sections };
}

/** Float32 values of a section (copied, so the result is aligned and independent of the file buffer). */
export function sectionToFloat32(buf: Buffer): Float32Array {
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

/** A section holding a JSON value. */
export function jsonSection(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Parse a JSON section, naming the file if it is corrupt. */
export function parseJsonSection<T>(buf: Buffer | undefined, name: string, file: string): T {
  if (buf === undefined) throw new InputFormatError(`corrupt index file: section '${name}' missing`, file);
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw new InputFormatError(`corrupt index file: section '${name}' is not valid JSON`, file);
  }
}
