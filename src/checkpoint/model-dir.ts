import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { ArgumentError, InputFormatError } from '../errors.js';
import {
  removeStaleTemps,
  tempSibling,
  toWriteError,
  writeDirAtomic,
  writeFileAtomic,
} from '../util/atomic.js';

/**
 * Model directories as one unit. Every model save goes through {@link writeModelDir}: the files are built
 * in a hidden staging directory, a manifest (`dense_retrieval_manifest.json`: size and sha256 of every
 * file) is computed, and then either the whole directory is swapped in (`overwrite: 'replace'`, or a new
 * directory), or the manifest is written into the existing directory *first* and the files are renamed
 * over their old versions one by one (`overwrite: 'files'`, the default), leaving every other file alone.
 *
 * Writing the manifest first is what makes a killed save detectable even in a directory that had no
 * manifest before: until the last rename, some file does not match it, and {@link verifyModelDir}
 * (called by every loader) refuses the directory naming that file, instead of encoding with a mix of two
 * saves. The manifest is an extra JSON file: sentence-transformers and transformers ignore it.
 */

/** File name of the manifest in a saved model directory. */
export const MODEL_MANIFEST = 'dense_retrieval_manifest.json';

/** How {@link writeModelDir} treats an existing directory. */
export type OverwriteMode = 'files' | 'replace';

/** Options of model saves (`SentenceEncoder.save`, `BiEncoder.save`). */
export interface SaveOptions {
  /**
   * `files` (default): write the model's own files (each atomically, verified by the manifest) and keep
   * everything else in the directory (a training log, `checkpoints/`, notes). `replace`: replace the whole
   * directory in one rename, deleting whatever else it held.
   */
  overwrite?: OverwriteMode;
}

/** Contents of {@link MODEL_MANIFEST}. */
export interface ModelManifest {
  format: 'dense-retrieval.model-manifest';
  version: 1;
  /** Every file of the model, by path relative to the directory (`/`-separated). */
  files: { path: string; size: number; sha256: string }[];
  /** Directories the model needs even when empty (e.g. `2_Normalize`). */
  directories: string[];
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Files and directories under `root`, relative and `/`-separated, sorted; the manifest itself excluded. */
async function listTree(root: string): Promise<{ files: string[]; directories: string[] }> {
  const files: string[] = [];
  const directories: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true });
    for (const e of entries) {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        directories.push(child);
        await walk(child);
      } else if (e.isFile()) {
        if (child !== MODEL_MANIFEST) files.push(child);
      } else {
        throw new ArgumentError(
          'build',
          `${child} is neither a file nor a directory; a model holds only files`,
        );
      }
    }
  };
  await walk('');
  return { files: files.sort(), directories: directories.sort() };
}

async function manifestOf(root: string): Promise<ModelManifest> {
  const { files, directories } = await listTree(root);
  const entries: ModelManifest['files'] = [];
  for (const rel of files) {
    const full = path.join(root, rel);
    entries.push({ path: rel, size: (await fs.stat(full)).size, sha256: await sha256Of(full) });
  }
  return { format: 'dense-retrieval.model-manifest', version: 1, files: entries, directories };
}

const manifestJson = (m: ModelManifest): string => `${JSON.stringify(m, null, 2)}\n`;

/**
 * Write a model directory as one unit. `build` fills an empty staging directory with the model's files;
 * then, with `overwrite: 'replace'` or when `dir` does not exist, the staging directory (manifest added)
 * replaces `dir` in one rename. Otherwise (`'files'`, the default) the manifest is written into `dir`
 * first and each file is renamed over its old version; files of the previous save (listed in its
 * manifest) that the new model does not have are removed, and every other file of `dir` is kept. A file of the model whose path is a directory in `dir` (or the reverse) is an
 * {@link ArgumentError} before anything changes.
 *
 * @throws {ArgumentError} for an unknown `overwrite` mode or a `dir` that is not a directory;
 *   {@link WriteError} naming `dir` or the file in it (never the staging directory) when the file system
 *   refuses a write (permission denied, no space, a parent that is a file, ...).
 * @example
 * ```ts
 * await writeModelDir('runs/scifact', async (tmp) => {
 *   await writeFileAtomic(path.join(tmp, 'config.json'), '{}');
 * }); // runs/scifact/train_log.jsonl and checkpoints/ stay
 * ```
 */
export async function writeModelDir(
  dir: string,
  build: (stagingDir: string) => Promise<void>,
  options: SaveOptions = {},
): Promise<void> {
  const mode = options.overwrite ?? 'files';
  if (mode !== 'files' && mode !== 'replace') {
    throw new ArgumentError('overwrite', `must be 'files' or 'replace', got ${JSON.stringify(mode)}`);
  }
  const target = path.resolve(dir);
  const existing = await fs.lstat(target).catch(() => undefined);
  if (existing !== undefined && !existing.isDirectory()) {
    throw new ArgumentError('dir', `${dir} exists and is not a directory`);
  }
  if (mode === 'replace' || existing === undefined) {
    await writeDirAtomic(dir, async (tmp) => {
      await build(tmp);
      await writeFileAtomic(path.join(tmp, MODEL_MANIFEST), manifestJson(await manifestOf(tmp)));
    });
    return;
  }
  await removeStaleTemps(path.dirname(target));
  const staging = tempSibling(target);
  try {
    await fs.mkdir(staging);
  } catch (error) {
    throw await toWriteError(error, dir, staging);
  }
  try {
    await build(staging);
    const manifest = await manifestOf(staging);
    // Refuse before changing anything when a file would land on a directory or the reverse.
    for (const { path: rel } of manifest.files) {
      const st = await fs.lstat(path.join(target, rel)).catch(() => undefined);
      if (st?.isDirectory()) {
        throw new ArgumentError(
          'dir',
          `${path.join(dir, rel)} is a directory where the model writes a file; move it, or save with { overwrite: 'replace' }`,
        );
      }
    }
    for (const rel of manifest.directories) {
      const st = await fs.lstat(path.join(target, rel)).catch(() => undefined);
      if (st !== undefined && !st.isDirectory()) {
        throw new ArgumentError(
          'dir',
          `${path.join(dir, rel)} is a file where the model needs a directory; move it, or save with { overwrite: 'replace' }`,
        );
      }
    }
    const previous = await previousModelFiles(target);
    await writeFileAtomic(path.join(target, MODEL_MANIFEST), manifestJson(manifest));
    for (const rel of manifest.directories) await fs.mkdir(path.join(target, rel), { recursive: true });
    // Each rename replaces one file atomically (a file never goes missing); the manifest, already in place,
    // tells a loader whether all of them arrived.
    for (const { path: rel } of manifest.files) {
      await fs.rename(path.join(staging, rel), path.join(target, rel));
    }
    // Files the previous save listed and this one does not write belong to the old model (e.g. the root
    // weights of a tied model now saved untied): left in place, a plain `loadModel(dir)` would load them.
    // Only what the old manifest proves we wrote goes; nothing else in the directory is touched.
    const written = new Set(manifest.files.map((f) => f.path));
    for (const rel of previous.files) {
      if (!written.has(rel)) await fs.rm(path.join(target, rel), { force: true });
    }
    const kept = new Set(manifest.directories);
    for (const rel of previous.directories.sort((a, b) => b.length - a.length)) {
      if (!kept.has(rel)) await fs.rmdir(path.join(target, rel)).catch(() => undefined); // only if empty
    }
  } catch (error) {
    throw await toWriteError(error, dir, staging);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** Files and directories the manifest already in `dir` lists (nothing when absent, unreadable or unsafe). */
async function previousModelFiles(dir: string): Promise<{ files: string[]; directories: string[] }> {
  const none = { files: [], directories: [] };
  let manifest: Partial<ModelManifest>;
  try {
    manifest = JSON.parse(
      await fs.readFile(path.join(dir, MODEL_MANIFEST), 'utf8'),
    ) as Partial<ModelManifest>;
  } catch {
    return none;
  }
  if (manifest?.format !== 'dense-retrieval.model-manifest' || !Array.isArray(manifest.files)) return none;
  const files = manifest.files.map((f) => (f as { path?: unknown })?.path);
  const directories = Array.isArray(manifest.directories) ? manifest.directories : [];
  // A manifest naming a path outside the directory is not ours to act on.
  if (!files.every(safeRelative) || !directories.every(safeRelative)) return none;
  return { files: files as string[], directories: directories as string[] };
}

/**
 * Whether `rel` is a relative path that stays inside a model directory: not absolute, no `..`, empty or
 * `.` segments, no backslashes. What a model's own files (modules.json paths, shard names, tower folders)
 * may name; the hub downloader applies the same rule.
 *
 * @example
 * ```ts
 * safeRelative('1_Pooling'); // true
 * safeRelative('../elsewhere'); // false
 * ```
 */
export function safeRelative(rel: unknown): rel is string {
  return (
    typeof rel === 'string' &&
    rel !== '' &&
    !rel.includes('\\') &&
    !rel.includes('\0') &&
    rel.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
  );
}

/**
 * Check a model directory against its {@link MODEL_MANIFEST}, when it has one: every listed file present
 * with the listed size and sha256, every listed directory present. Files the manifest does not list are
 * ignored. Returns whether a manifest was found (a directory without one, e.g. from Python, is not checked).
 *
 * @throws {InputFormatError} naming the first file that is missing or differs (the directory mixes two
 *   saves, e.g. a save was killed, or a file was edited after saving), or a malformed manifest.
 * @example
 * ```ts
 * await verifyModelDir('runs/scifact'); // true, or throws naming e.g. runs/scifact/model.safetensors
 * ```
 */
export async function verifyModelDir(dir: string): Promise<boolean> {
  const file = path.join(dir, MODEL_MANIFEST);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new InputFormatError(`cannot read (${(error as NodeJS.ErrnoException).code})`, file);
  }
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(text) as ModelManifest;
  } catch (error) {
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file);
  }
  if (
    manifest === null ||
    typeof manifest !== 'object' ||
    manifest.format !== 'dense-retrieval.model-manifest' ||
    manifest.version !== 1 ||
    !Array.isArray(manifest.files) ||
    !Array.isArray(manifest.directories)
  ) {
    throw new InputFormatError(
      'not a dense-retrieval model manifest (format, version, files, directories)',
      file,
    );
  }
  const advice =
    'the directory mixes files of two saves (a save was interrupted?) or the file was changed after saving; ' +
    `save the model again, or delete ${MODEL_MANIFEST} to load it anyway`;
  for (const rel of manifest.directories) {
    if (!safeRelative(rel)) throw new InputFormatError(`unsafe directory path ${JSON.stringify(rel)}`, file);
    const st = await fs.stat(path.join(dir, rel)).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new InputFormatError(`missing directory, listed in ${MODEL_MANIFEST}`, path.join(dir, rel));
    }
  }
  for (const entry of manifest.files) {
    const e = entry as { path?: unknown; size?: unknown; sha256?: unknown };
    if (
      e === null ||
      typeof e !== 'object' ||
      !safeRelative(e.path) ||
      !Number.isSafeInteger(e.size) ||
      typeof e.sha256 !== 'string'
    ) {
      throw new InputFormatError(`bad file entry ${JSON.stringify(entry)}`, file);
    }
    const full = path.join(dir, e.path);
    const st = await fs.stat(full).catch(() => undefined);
    if (!st?.isFile()) throw new InputFormatError(`missing, listed in ${MODEL_MANIFEST}; ${advice}`, full);
    if (st.size !== e.size) {
      throw new InputFormatError(`${st.size} bytes where ${MODEL_MANIFEST} lists ${e.size}; ${advice}`, full);
    }
    if ((await sha256Of(full)) !== e.sha256) {
      throw new InputFormatError(`content differs from the sha256 in ${MODEL_MANIFEST}; ${advice}`, full);
    }
  }
  return true;
}
