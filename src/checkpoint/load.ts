import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputFormatError } from '../errors.js';
import { safeRelative } from './model-dir.js';
import { readSafetensors } from './safetensors.js';
import type { SafetensorsTensor } from './safetensors.js';

/**
 * Reading a Hugging Face model directory's files (config.json, safetensors weights) without knowing the
 * architecture: the models layer turns them into an encoder (src/models/transformer-loader.ts).
 */

/**
 * Parse a JSON file; a missing, unreadable or malformed file is an {@link InputFormatError} naming it.
 *
 * @example
 * ```ts
 * const config = await readJson('model/config.json', 'config.json');
 * ```
 */
export async function readJson(file: string, what: string): Promise<unknown> {
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputFormatError(code === 'ENOENT' ? `missing ${what}` : `cannot read ${what} (${code})`, file);
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file);
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Safetensors files of a model directory: `model.safetensors`, or the shards a sharded index lists. */
export async function weightFiles(dir: string): Promise<string[]> {
  const single = path.join(dir, 'model.safetensors');
  if (await exists(single)) return [single];
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (await exists(indexFile)) {
    const index = (await readJson(indexFile, 'safetensors index')) as { weight_map?: Record<string, string> };
    if (index === null || typeof index !== 'object' || typeof index.weight_map !== 'object') {
      throw new InputFormatError('no "weight_map" object', indexFile);
    }
    const shards = [...new Set(Object.values(index.weight_map))];
    const bad = shards.find((f) => !safeRelative(f));
    if (bad !== undefined) {
      throw new InputFormatError(
        `"weight_map" names ${JSON.stringify(bad)}, which is not a file inside the model directory`,
        indexFile,
      );
    }
    return (shards as string[]).sort().map((f) => path.join(dir, f));
  }
  const hasLegacy = await exists(path.join(dir, 'pytorch_model.bin'));
  throw new InputFormatError(
    hasLegacy
      ? 'missing model.safetensors (only pytorch_model.bin is present; convert it with ' +
          "`python -c \"from transformers import AutoModel; AutoModel.from_pretrained('DIR').save_pretrained('DIR', safe_serialization=True)\"`)"
      : 'missing model.safetensors',
    single,
  );
}

/**
 * Every tensor of a model directory's safetensors file(s) (`model.safetensors` or a sharded index), by
 * checkpoint name, and the file to name in errors.
 *
 * @example
 * ```ts
 * const { tensors, file } = await readCheckpointTensors('models/bert-base-uncased');
 * ```
 */
export async function readCheckpointTensors(
  dir: string,
): Promise<{ tensors: Map<string, SafetensorsTensor>; file: string }> {
  const files = await weightFiles(dir);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const f of files) for (const [name, t] of await readSafetensors(f)) tensors.set(name, t);
  return { tensors, file: files.length === 1 ? files[0] : dir };
}
