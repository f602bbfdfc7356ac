import { createHash } from 'node:crypto';
import { readContainer, sectionBytes, writeContainer } from '../../src/index/container.js';
import type { ContainerHeader } from '../../src/index/container.js';

/**
 * Helpers that build damaged index files. `rawContainer` lays out version-2 bytes by hand (an independent
 * writer, so a header the library would never write can be tested); `rewriteContainer` changes a valid file's
 * header or sections and writes it back with fresh checksums, so the loader's structural checks are reached
 * (a plain bit flip stops at the checksum).
 */

export function rawContainer(header: unknown, payload: Uint8Array = new Uint8Array(0), version = 2): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const fixed = Buffer.alloc(16);
  fixed.write('DRINDEX\n', 0, 'latin1');
  fixed.writeUInt32LE(version, 8);
  fixed.writeUInt32LE(json.length, 12);
  const digest = version >= 2 ? createHash('sha256').update(json).digest() : Buffer.alloc(0);
  return Buffer.concat([fixed, digest, json, payload]);
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function rewriteContainer(
  file: string,
  out: string,
  mutate: (header: ContainerHeader, sections: Record<string, Uint8Array>) => void,
): Promise<void> {
  const { header, sections } = await readContainer(file);
  const copy: Record<string, Uint8Array> = {};
  for (const [name, s] of sections) copy[name] = Uint8Array.from(sectionBytes(s, file));
  mutate(header, copy);
  await writeContainer(out, header, copy);
}

export function jsonBytes(value: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function parseJsonBytes(bytes: Uint8Array): unknown {
  return JSON.parse(Buffer.from(bytes).toString('utf8'));
}
