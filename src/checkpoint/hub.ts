import { createHash } from 'node:crypto';
import { constants as fsc, createReadStream, promises as fs } from 'node:fs';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ArgumentError, DenseRetrievalError } from '../errors.js';
import { packageVersion } from '../util/package.js';
import { createProgress } from '../util/progress.js';
import {
  COMPLETE_MARKER,
  defaultCacheDir,
  isCompleteModelDir,
  LOCK_FILE,
  lockModelDir,
  markComplete,
  modelCacheDir,
} from './cache.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';

/**
 * Hugging Face Hub download into a local cache, so `loadModel('org/name')` works like `from_pretrained`.
 * Written on Node's own `fetch` rather than `@huggingface/hub` to keep the dependency list short and to
 * control what matters here: resumable `.part` files, a marker written last, and errors that say which
 * directory to fill by hand on an offline machine.
 */

/** Options of {@link resolveModelSource}. Every option has an environment-variable default. */
export interface HubOptions {
  /** Cache root; default `$DENSE_RETRIEVAL_CACHE`, else `$XDG_CACHE_HOME` or `~/.cache`, + `/dense-retrieval`. */
  cacheDir?: string;
  /** Hub base URL; default `$HF_ENDPOINT` or `https://huggingface.co`. */
  endpoint?: string;
  /** Branch, tag or commit; default `main`. */
  revision?: string;
  /** Never touch the network: a model not complete in the cache is an error. Default: `HF_HUB_OFFLINE=1`. */
  offline?: boolean;
  /** Access token for gated or private repositories; default `$HF_TOKEN`. */
  token?: string;
  /** No progress bar (it is drawn only on a TTY anyway). */
  quiet?: boolean;
  /** Download exactly these files (all required) instead of the default model file list. */
  files?: string[];
  /** Further attempts per file after a network failure, each resuming where the last stopped; default 3. */
  retries?: number;
  /** Wait before the first retry, doubled on each further one; default 1000 ms. */
  retryDelayMs?: number;
  /**
   * An attempt that receives nothing (no response, or no body bytes) for this long is abandoned and
   * retried (resuming); default `$HF_HUB_DOWNLOAD_TIMEOUT` seconds, else 30 000 ms.
   */
  stallTimeoutMs?: number;
  /**
   * Largest file accepted when neither the response nor the Hub announces a size; default 16 GiB for
   * weights (`*.safetensors`), and at most 256 MiB for any other file. A body longer than its announced
   * size (Content-Length, Content-Range, the Hub's `X-Linked-Size`) is always refused.
   */
  maxFileBytes?: number;
}

/**
 * A download that could not complete: network failure, offline mode, or an HTTP error.
 *
 * @example
 * ```ts
 * try {
 *   await resolveModelSource('org/model');
 * } catch (error) {
 *   if (error instanceof HubError) console.error(`fill ${error.modelDir} by hand: ${error.message}`);
 * }
 * ```
 */
export class HubError extends DenseRetrievalError {
  /** The URL that failed, when one did. */
  readonly url: string | undefined;
  /** The cache directory that a complete copy of the model must be in. */
  readonly modelDir: string;

  constructor(message: string, modelDir: string, url?: string) {
    super(redactCredentials(message));
    this.modelDir = modelDir;
    this.url = url === undefined ? undefined : redactCredentials(url);
  }
}

/**
 * Replace the password of every `scheme://user:password@` in `text` with `***`, so an endpoint with
 * credentials never prints them.
 *
 * @example
 * ```ts
 * redactCredentials('https://me:s3cret@mirror.example/x'); // 'https://me:***@mirror.example/x'
 * ```
 */
export function redactCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^@\s/]*@/gi, '$1:***@');
}

/** Files a model cannot do without. */
export const REQUIRED_HUB_FILES: readonly string[] = ['config.json', 'model.safetensors', 'tokenizer.json'];
/** Files fetched when the repository has them (a 404 skips them). */
export const OPTIONAL_HUB_FILES: readonly string[] = [
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.txt',
  'modules.json',
  'sentence_bert_config.json',
  'config_sentence_transformers.json',
];

const DEFAULT_ENDPOINT = 'https://huggingface.co';
const WEIGHTS = 'model.safetensors';
const WEIGHTS_INDEX = 'model.safetensors.index.json';
const MAX_REDIRECTS = 10;
const DEFAULT_STALL_MS = 30_000;
const DEFAULT_MAX_WEIGHTS_BYTES = 16 * 1024 ** 3;
/** Config, tokenizer and module files are small; a larger one is a server gone wrong. */
const MAX_SMALL_FILE_BYTES = 256 * 1024 ** 2;
/** Files at least this large get a progress bar. */
const PROGRESS_MIN_BYTES = 1 << 20;
/** Hub ids: `name` or `org/name`, letters, digits, `-`, `_`, `.`; no `..` or `--` (as the Hub requires). */
const HUB_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;
/** A relative file path inside a repository, with no `..` or empty segments. */
const REPO_FILE = /^(?!.*(^|\/)\.\.?(\/|$))[\w.-]+(\/[\w.-]+)*$/;

interface Settings {
  cacheDir: string;
  endpoint: string;
  revision: string;
  offline: boolean;
  token: string | undefined;
  quiet: boolean;
  files: string[] | undefined;
  retries: number;
  retryDelayMs: number;
  stallTimeoutMs: number;
  maxFileBytes: number;
  /** `Basic ...` from credentials in the endpoint URL (which is kept without them). */
  basicAuth: string | undefined;
}

interface Job {
  repo: string;
  dir: string;
  settings: Settings;
}

function truthy(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}

function settingsFrom(options: HubOptions): Settings {
  const env = process.env;
  const retries = options.retries ?? 3;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new ArgumentError('retries', `must be a non-negative integer, got ${retries}`);
  }
  const retryDelayMs = options.retryDelayMs ?? 1000;
  if (!(retryDelayMs >= 0)) throw new ArgumentError('retryDelayMs', `must be >= 0, got ${retryDelayMs}`);
  const revision = options.revision ?? 'main';
  if (revision === '' || revision.includes('..')) {
    throw new ArgumentError('revision', `not a valid branch, tag or commit: ${JSON.stringify(revision)}`);
  }
  let endpoint = (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(endpoint)) {
    throw new ArgumentError(
      'endpoint',
      `expected an http(s) URL, got ${JSON.stringify(redactCredentials(endpoint))}`,
    );
  }
  // Credentials in the URL become a Basic header (sent to that origin only) and leave the URL, so no
  // message, marker file or redirect ever carries them; fetch refuses such URLs anyway.
  let basicAuth: string | undefined;
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    throw new ArgumentError('endpoint', `not a valid URL: ${JSON.stringify(redactCredentials(endpoint))}`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    const user = decodeURIComponent(parsed.username);
    const pass = decodeURIComponent(parsed.password);
    basicAuth = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    parsed.username = '';
    parsed.password = '';
    endpoint = parsed.href.replace(/\/+$/, '');
  }
  const envTimeout = env.HF_HUB_DOWNLOAD_TIMEOUT ? Number(env.HF_HUB_DOWNLOAD_TIMEOUT) * 1000 : undefined;
  const stallTimeoutMs = options.stallTimeoutMs ?? envTimeout ?? DEFAULT_STALL_MS;
  if (!(stallTimeoutMs > 0) || !Number.isFinite(stallTimeoutMs)) {
    throw new ArgumentError(
      options.stallTimeoutMs === undefined ? 'HF_HUB_DOWNLOAD_TIMEOUT' : 'stallTimeoutMs',
      `must be a positive number, got ${options.stallTimeoutMs ?? env.HF_HUB_DOWNLOAD_TIMEOUT}`,
    );
  }
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_WEIGHTS_BYTES;
  if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes < 1) {
    throw new ArgumentError('maxFileBytes', `must be a positive integer, got ${maxFileBytes}`);
  }
  const files = options.files;
  if (files !== undefined) {
    if (!Array.isArray(files) || files.length === 0) {
      throw new ArgumentError('files', 'expected a non-empty array of file paths');
    }
    const bad = files.find((f) => typeof f !== 'string' || !REPO_FILE.test(f));
    if (bad !== undefined) {
      throw new ArgumentError(
        'files',
        `not a relative file path inside a repository: ${JSON.stringify(bad)}`,
      );
    }
  }
  return {
    cacheDir: options.cacheDir ?? defaultCacheDir(),
    endpoint,
    revision,
    offline: options.offline ?? truthy(env.HF_HUB_OFFLINE),
    token: options.token ?? (env.HF_TOKEN || undefined),
    quiet: options.quiet ?? false,
    files,
    retries,
    retryDelayMs,
    stallTimeoutMs,
    maxFileBytes,
    basicAuth,
  };
}

/** The keys of {@link HubOptions}. */
export const HUB_OPTION_KEYS = optionKeys<HubOptions>({
  cacheDir: true,
  endpoint: true,
  revision: true,
  offline: true,
  token: true,
  quiet: true,
  files: true,
  retries: true,
  retryDelayMs: true,
  stallTimeoutMs: true,
  maxFileBytes: true,
});

/** The {@link HubOptions} among a larger options object (what `loadModel` passes on to the hub). */
export function pickHubOptions(options: HubOptions): HubOptions {
  return Object.fromEntries(
    Object.entries(options).filter(([k]) => HUB_OPTION_KEYS.includes(k)),
  ) as HubOptions;
}

/**
 * Whether `source` has the shape of a Hugging Face hub id (`org/name` or `name`).
 *
 * @example
 * ```ts
 * isHubId('sentence-transformers/all-MiniLM-L6-v2'); // true
 * isHubId('./models/mine'); // false
 * ```
 */
export function isHubId(source: string): boolean {
  return HUB_ID.test(source) && !source.includes('..') && !source.includes('--');
}

/**
 * Turn a model source into a local directory: an existing directory is returned as is (resolved to an
 * absolute path); a hub id such as `sentence-transformers/all-MiniLM-L6-v2` is downloaded into the cache
 * once (config, weights, tokenizer and sentence-transformers files) and its cache directory returned.
 * A later call finds the complete copy and makes no request at all.
 *
 * Each file is streamed to `<file>.part` and renamed when complete; an interrupted download resumes with
 * an HTTP Range request; the directory is marked complete (a `.complete` file) only after every file is
 * in place, so a half-downloaded model is never used.
 *
 * @example
 * ```ts
 * import { resolveModelSource } from 'dense-retrieval';
 *
 * const dir = await resolveModelSource('sentence-transformers/all-MiniLM-L6-v2');
 * // '/home/me/.cache/dense-retrieval/hub/sentence-transformers--all-MiniLM-L6-v2/main'
 * const same = await resolveModelSource('./my-model'); // a local directory: returned as is
 * ```
 */
export async function resolveModelSource(source: string, options: HubOptions = {}): Promise<string> {
  checkOptionKeys('resolveModelSource', options, HUB_OPTION_KEYS);
  if (typeof source !== 'string' || source === '') {
    throw new ArgumentError('source', 'expected a model directory or a Hugging Face hub id (org/name)');
  }
  const stat = await fs.stat(source).catch(() => undefined);
  if (stat?.isDirectory()) return path.resolve(source);
  if (stat) {
    throw new ArgumentError(
      'source',
      `${source} is a file; expected a model directory or a hub id (org/name)`,
    );
  }
  if (!isHubId(source)) {
    throw new ArgumentError(
      'source',
      `${source}: no such directory, and not a Hugging Face hub id (org/name)`,
    );
  }
  // `runs/lib-modle` (a typo of a local output directory) looks exactly like a hub id. When its first
  // segment exists here, the user meant a local path: say so at once instead of trying a download (and
  // creating a cache directory) for a repository that cannot exist. docs/hub-cache.md states the rule.
  const owner = source.split('/')[0];
  if (source.includes('/') && (await fs.stat(owner).catch(() => undefined)) !== undefined) {
    throw new ArgumentError(
      'source',
      `${source}: no such directory (${owner}/ exists here, so this names a local path, not a hub id)`,
    );
  }
  const settings = settingsFrom(options);
  const dir = modelCacheDir(settings.cacheDir, source, settings.revision);
  if (await isCompleteModelDir(dir)) return dir;
  const job: Job = { repo: source, dir, settings };
  if (settings.offline) {
    throw notLocal(
      source,
      new HubError(
        `offline (HF_HUB_OFFLINE) and ${source} (revision ${settings.revision}) is not in the cache. ${fillByHand(job)}`,
        dir,
      ),
    );
  }
  // Directories this call creates: a failed download must not leave them behind empty.
  const created = await missingDirs(dir, path.resolve(settings.cacheDir));
  try {
    const release = await cacheWrite(dir, () =>
      lockModelDir(dir, {
        onWait: (holder) => {
          if (!settings.quiet) {
            process.stderr.write(`waiting for another download of ${source} (lock ${holder})\n`);
          }
        },
      }),
    );
    try {
      // Another process may have finished the download while we waited for the lock.
      if (!(await isCompleteModelDir(dir))) await cacheWrite(dir, () => download(job));
    } finally {
      await release();
    }
  } catch (error) {
    // Only empty directories go: the .part files of a download that got somewhere stay, to be resumed.
    await removeEmptyDirs(dir);
    for (const d of created) await fs.rmdir(d).catch(() => undefined);
    throw notLocal(source, error);
  }
  return dir;
}

/**
 * A one-part name (`nope-dir`) is as likely a mistyped local directory as a legacy hub id
 * (`bert-base-uncased`): a failed download says that no such directory exists either.
 */
function notLocal(source: string, error: unknown): unknown {
  if (source.includes('/') || !(error instanceof HubError)) return error;
  return new HubError(
    `no local directory '${source}' and the hub download failed: ${error.message}`,
    error.modelDir,
    error.url,
  );
}

/** `dir` and those of its ancestors up to and including `root` that do not exist yet, deepest first. */
async function missingDirs(dir: string, root: string): Promise<string[]> {
  const out: string[] = [];
  for (let d = dir; ; d = path.dirname(d)) {
    if (
      await fs.lstat(d).then(
        () => true,
        () => false,
      )
    )
      break;
    out.push(d);
    if (d === root || path.dirname(d) === d) break;
  }
  return out;
}

/** Whether the tree at `dir` holds any file besides the download lock. */
async function holdsFiles(dir: string): Promise<boolean> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    if (e.isDirectory() ? await holdsFiles(path.join(dir, e.name)) : e.name !== LOCK_FILE) return true;
  }
  return false;
}

/** Remove the empty directories of the tree at `dir`, `dir` included when it ends up empty; files stay. */
async function removeEmptyDirs(dir: string): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await removeEmptyDirs(path.join(dir, e.name));
  await fs.rmdir(dir).catch(() => undefined); // fails, as meant, when anything is left in it
}

/** File-system errors that mean "this cache directory cannot be written", not a bug. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOTDIR', 'EEXIST', 'EDQUOT']);

/** Run `write`, turning an unwritable cache into a {@link HubError} that says how to pick another one. */
async function cacheWrite<T>(dir: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === undefined || !UNWRITABLE.has(code)) throw error;
    throw new HubError(
      `cannot write the model cache at ${dir} (${(error as Error).message}); ` +
        'set DENSE_RETRIEVAL_CACHE (or the cacheDir option) to a writable directory',
      dir,
    );
  }
}

/** The advice every download error ends with: which directory to fill with which files. */
function fillByHand(job: Job): string {
  const { dir, settings } = job;
  const needed = settings.files
    ? settings.files.join(', ')
    : `${REQUIRED_HUB_FILES.join(', ')}, and those of ${OPTIONAL_HUB_FILES.join(', ')}, ` +
      'module folders (e.g. 1_Pooling/config.json, 2_Normalize/) that the model has (for a Router model, ' +
      'router_config.json and its route folders, each Transformer folder with its own config, tokenizer and weights)';
  return (
    `To fill the cache by hand, put ${needed} into ${dir} ` +
    `and then create the empty file ${path.join(dir, COMPLETE_MARKER)}; or pass a local model directory instead.`
  );
}

function fileUrl(job: Job, file: string): string {
  const { endpoint, revision } = job.settings;
  const repo = job.repo.split('/').map(encodeURIComponent).join('/');
  const rel = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${rel}`;
}

async function download(job: Job): Promise<void> {
  const { dir, settings } = job;
  await fs.mkdir(dir, { recursive: true });
  const fetched: string[] = [];
  const get = async (file: string, required: boolean): Promise<boolean> => {
    const found = await fetchFile(job, file, required);
    if (found) fetched.push(file);
    return found;
  };
  if (settings.files) {
    for (const file of settings.files) await get(file, true);
  } else {
    // modules.json first: it says where the Transformer module lives (the root, a folder such as
    // 0_Transformer/, or each route folder of a Router), hence which folders need config, tokenizer and weights.
    const stack = (await get('modules.json', false))
      ? await moduleStack(job, get)
      : { transformers: [''], others: [] };
    if (fetched.includes('modules.json')) await get(ST_CONFIG, false);
    // Small files first, so a missing tokenizer.json fails before gigabytes of weights are fetched.
    for (const folder of stack.transformers) {
      for (const file of REQUIRED_HUB_FILES) {
        if (file !== WEIGHTS) await get(inFolder(folder, file), true);
      }
      for (const file of TRANSFORMER_OPTIONAL_FILES) await get(inFolder(folder, file), false);
    }
    for (const { folder, files } of stack.others) {
      await fs.mkdir(path.join(dir, folder), { recursive: true });
      for (const file of files) await get(inFolder(folder, file.name), file.required);
    }
    for (const folder of stack.transformers) await getWeights(job, folder, get);
  }
  await markComplete(dir, {
    repo: job.repo,
    revision: settings.revision,
    endpoint: settings.endpoint,
    files: fetched,
    completedAt: new Date().toISOString(),
  });
}

const ST_CONFIG = 'config_sentence_transformers.json';
const ROUTER_CONFIG_FILE = 'router_config.json';
/** A Transformer module's files besides config.json, tokenizer.json and the weights (fetched when present). */
const TRANSFORMER_OPTIONAL_FILES: readonly string[] = OPTIONAL_HUB_FILES.filter(
  (f) => f !== 'modules.json' && f !== ST_CONFIG,
);

const inFolder = (folder: string, file: string): string => (folder === '' ? file : `${folder}/${file}`);

/** `folder`'s weights: model.safetensors, else model.safetensors.index.json and the shards it lists. */
async function getWeights(
  job: Job,
  folder: string,
  get: (file: string, required: boolean) => Promise<boolean>,
): Promise<void> {
  if (await get(inFolder(folder, WEIGHTS), false)) return;
  if (await get(inFolder(folder, WEIGHTS_INDEX), false)) {
    for (const shard of await shardFiles(job, folder)) await get(inFolder(folder, shard), true);
    return;
  }
  throw notFound(
    job,
    fileUrl(job, inFolder(folder, WEIGHTS)),
    inFolder(folder, WEIGHTS),
    '; dense-retrieval reads safetensors only: if the repository has just pytorch_model.bin, convert it ' +
      'with transformers (save_pretrained(dir, safe_serialization=True)) and pass the directory',
  );
}

/** A module folder other than a Transformer's, and the files it needs. */
interface ModuleFolder {
  folder: string;
  files: { name: string; required: boolean }[];
}

/** The files of a module that is not a Transformer (or Router), by its class name. */
function moduleFolderFiles(kind: string): { name: string; required: boolean }[] {
  if (kind === 'Normalize') return [];
  if (kind === 'Pooling') return [{ name: 'config.json', required: true }];
  if (kind === 'Dense') {
    return [
      { name: 'config.json', required: true },
      { name: 'model.safetensors', required: true },
    ];
  }
  return [{ name: 'config.json', required: false }];
}

/**
 * The folders a sentence-transformers `modules.json` needs: those holding a Transformer module (config,
 * tokenizer, weights), and the other module folders with their files. A `Router` module (sentence-transformers
 * v5, untied query/document towers) is expanded through its `router_config.json` (fetched here): each module id
 * of its `types` is a folder under the Router's. A folder with no files (`2_Normalize`) must still exist,
 * because sentence-transformers opens it.
 */
async function moduleStack(
  job: Job,
  get: (file: string, required: boolean) => Promise<boolean>,
): Promise<{ transformers: string[]; others: ModuleFolder[] }> {
  const transformers: string[] = [];
  const others: ModuleFolder[] = [];
  const add = (folder: string, kind: string): void => {
    if (kind === 'Transformer') {
      if (!transformers.includes(folder)) transformers.push(folder);
    } else if (folder !== '') {
      others.push({ folder, files: moduleFolderFiles(kind) });
    }
  };
  for (const m of await readModuleList(job, 'modules.json', 'path')) {
    if (m.kind !== 'Router') {
      add(m.folder, m.kind);
      continue;
    }
    const config = inFolder(m.folder, ROUTER_CONFIG_FILE);
    await get(config, true);
    for (const sub of await readModuleList(job, config, 'types'))
      add(inFolder(m.folder, sub.folder), sub.kind);
  }
  return { transformers, others };
}

/**
 * The modules of `file`: modules.json (a list of `{path, type}`) or a Router's router_config.json (its
 * `types` object, module id -> type, each id a folder), as folders and class names.
 */
async function readModuleList(
  job: Job,
  file: string,
  shape: 'path' | 'types',
): Promise<{ folder: string; kind: string }[]> {
  const local = path.join(job.dir, file);
  const fail = (why: string): HubError =>
    new HubError(`${local}: ${why} (downloaded from ${fileUrl(job, file)})`, job.dir);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await fs.readFile(local, 'utf8'));
  } catch (error) {
    throw fail(`invalid JSON (${(error as Error).message})`);
  }
  let entries: { path?: unknown; type?: unknown }[];
  if (shape === 'path') {
    if (!Array.isArray(parsed)) throw fail('expected a JSON array of modules');
    entries = parsed as { path?: unknown; type?: unknown }[];
  } else {
    const types = (parsed as { types?: unknown } | null)?.types;
    if (typeof types !== 'object' || types === null || Array.isArray(types)) {
      throw fail('expected a "types" object (module id -> module type)');
    }
    entries = Object.entries(types).map(([id, type]) => ({ path: id, type }));
  }
  return entries.map((m, i) => {
    if (typeof m?.path !== 'string' || typeof m.type !== 'string') {
      throw fail(`module ${i} lacks a string "path" or "type"`);
    }
    const folder = m.path.replace(/\/+$/, '');
    // '' is the root (where the first module, usually the Transformer, is saved).
    if (folder !== '' && !REPO_FILE.test(folder)) {
      throw fail(`module ${i} has an unsafe path ${JSON.stringify(m.path)}`);
    }
    return { folder, kind: m.type.split('.').pop() ?? '' };
  });
}

function notFound(job: Job, url: string, file: string, hint: string, detail = ''): HubError {
  return new HubError(
    `${url}: HTTP 404 Not Found${detail}: ${job.repo} has no ${file} at revision ${job.settings.revision} ` +
      `(check the model id and revision)${hint}`,
    job.dir,
    url,
  );
}

/**
 * The shard files a `model.safetensors.index.json` in `folder` lists (large models split their weights),
 * relative to that folder.
 */
async function shardFiles(job: Job, folder: string): Promise<string[]> {
  const file = path.join(job.dir, folder, WEIGHTS_INDEX);
  const fail = (why: string): HubError =>
    new HubError(`${file}: ${why}`, job.dir, fileUrl(job, inFolder(folder, WEIGHTS_INDEX)));
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(await fs.readFile(file, 'utf8')) as { weight_map?: unknown };
  } catch (error) {
    throw fail(`invalid JSON (${(error as Error).message})`);
  }
  const map = index?.weight_map;
  if (typeof map !== 'object' || map === null) throw fail('no "weight_map" object');
  const shards = [...new Set(Object.values(map))];
  const bad = shards.find((f) => typeof f !== 'string' || !REPO_FILE.test(f));
  if (bad !== undefined || shards.length === 0) {
    throw fail(`"weight_map" must name shard files inside the repository, got ${JSON.stringify(bad)}`);
  }
  return (shards as string[]).sort();
}

/** Why a single attempt failed in a way worth retrying. */
class TransientError extends Error {}

/** A body longer than announced or allowed: not retried (the server would do it again). */
class OversizeError extends Error {}

/**
 * `lstat` of a cache path, refusing a symbolic link: following one would append a download to the link's
 * target, or make a cached file point anywhere. `undefined` when the path does not exist.
 */
async function refuseLink(job: Job, file: string): Promise<Stats | undefined> {
  const stat = await fs.lstat(file).catch(() => undefined);
  if (stat?.isSymbolicLink()) {
    throw new HubError(
      `${file} is a symbolic link; the cache never follows links: remove it and rerun`,
      job.dir,
    );
  }
  return stat;
}

/** Open a cache file for writing without following a link (O_NOFOLLOW; a link raises ELOOP). */
async function openNoFollow(job: Job, file: string, append: boolean): Promise<FileHandle> {
  const flags = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW | (append ? fsc.O_APPEND : fsc.O_TRUNC);
  try {
    return await fs.open(file, flags, 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new HubError(
        `${file} is a symbolic link; the cache never follows links: remove it and rerun`,
        job.dir,
      );
    }
    throw error;
  }
}

async function readValidator(job: Job, file: string): Promise<string | undefined> {
  if ((await refuseLink(job, file)) === undefined) return undefined;
  const handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW).catch(() => undefined);
  if (handle === undefined) return undefined;
  try {
    return (await handle.readFile('utf8')).trim() || undefined;
  } finally {
    await handle.close();
  }
}

async function writeValidator(job: Job, file: string, value: string | undefined): Promise<void> {
  if (value === undefined) {
    await fs.rm(file, { force: true });
    return;
  }
  const handle = await openNoFollow(job, file, false);
  try {
    await handle.writeFile(value);
  } finally {
    await handle.close();
  }
}

/** The largest body accepted for `file` when nothing announces its size. */
function capFor(job: Job, file: string): number {
  const max = job.settings.maxFileBytes;
  return file.endsWith('.safetensors') ? max : Math.min(max, MAX_SMALL_FILE_BYTES);
}

/**
 * Download one file to `<file>.part`, resuming from what a previous attempt left, then rename it into
 * place. Returns false for an optional file the repository does not have.
 */
async function fetchFile(job: Job, file: string, required: boolean): Promise<boolean> {
  const target = path.join(job.dir, file);
  const existing = await refuseLink(job, target);
  // Renamed into place by an earlier, interrupted run: it is complete.
  if (existing?.isFile()) return true;
  await fs.mkdir(path.dirname(target), { recursive: true });
  const url = fileUrl(job, file);
  const { retries, retryDelayMs } = job.settings;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0 && retryDelayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs * 2 ** (attempt - 1)));
    }
    try {
      const found = await attemptDownload(job, url, target, file, required);
      if (!found) return false;
      await fs.rename(`${target}.part`, target);
      await fs.rm(`${target}.part.etag`, { force: true });
      return true;
    } catch (error) {
      if (!(error instanceof TransientError)) throw error;
      lastError = error;
    }
  }
  // Only a download that got somewhere leaves files to resume; an empty directory is removed afterwards.
  const kept = (await holdsFiles(job.dir))
    ? `Rerun to resume: partial files are kept in ${job.dir}.`
    : 'Nothing was downloaded.';
  throw new HubError(
    `could not download ${url} after ${retries + 1} attempt(s): ${lastError?.message}. ` +
      `${kept} ${fillByHand(job)}`,
    job.dir,
    url,
  );
}

function describeNetworkError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  const cause = e.cause?.code ?? e.cause?.message;
  return cause ? `${e.message} (${cause})` : e.message;
}

/** A strong entity tag (weak ones cannot validate a byte range). */
function strongEtag(value: string | null): string | undefined {
  return value && !value.startsWith('W/') ? value : undefined;
}

async function attemptDownload(
  job: Job,
  url: string,
  target: string,
  file: string,
  required: boolean,
): Promise<boolean> {
  const part = `${target}.part`;
  // What proves that the bytes of `.part` belong to the version being downloaded now: a strong ETag
  // (checked by the server through If-Range) or the Hub's sha256 of an LFS file (checked here).
  const etagFile = `${part}.etag`;
  let have = (await refuseLink(job, part))?.size ?? 0;
  const validator = have > 0 ? await readValidator(job, etagFile) : undefined;
  if (have > 0 && validator === undefined) {
    // Without a validator a Range request could splice two versions of the file: start over.
    await fs.rm(part, { force: true });
    have = 0;
  }
  const headers: Record<string, string> = {
    'user-agent': `dense-retrieval/${packageVersion()}`,
    // fetch asks for gzip by default; a compressed body breaks both the length check and byte ranges.
    'accept-encoding': 'identity',
  };
  if (job.settings.token) headers.authorization = `Bearer ${job.settings.token}`;
  else if (job.settings.basicAuth) headers.authorization = job.settings.basicAuth;
  if (have > 0) {
    headers.range = `bytes=${have}-`;
    // If-Range: the server sends the whole file (200) instead of the rest when the file has changed since
    // the .part was started (e.g. a new commit on `main`), so two versions are never spliced together.
    if (!validator!.startsWith('sha256:')) headers['if-range'] = validator!;
  }
  const stall = new StallTimer(job.settings.stallTimeoutMs);
  try {
    return await receive(job, url, target, file, required, {
      part,
      etagFile,
      have,
      validator,
      headers,
      stall,
    });
  } finally {
    stall.clear();
  }
}

/**
 * Aborts a request when nothing arrives for `ms`: undici's own limits are 300 s per phase, which with
 * retries kept a stalled download hanging for about 20 minutes.
 */
class StallTimer {
  readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {
    this.touch();
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => this.controller.abort(new Error(`no data for ${this.ms / 1000} s (stallTimeoutMs)`)),
      this.ms,
    );
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

interface Attempt {
  part: string;
  etagFile: string;
  have: number;
  validator: string | undefined;
  headers: Record<string, string>;
  stall: StallTimer;
}

async function receive(
  job: Job,
  url: string,
  target: string,
  file: string,
  required: boolean,
  attempt: Attempt,
): Promise<boolean> {
  const { part, etagFile, have, validator, headers, stall } = attempt;
  const { res, sha256, linkedSize } = await request(url, headers, stall.controller.signal);
  if (res.status === 404 && !required) {
    await res.body?.cancel();
    return false;
  }
  // The Hub answers 401 for repositories that do not exist as well as for private and gated ones, and
  // says which in x-error-code / x-error-message.
  const hubSays = res.headers.get('x-error-message');
  const detail = hubSays ? ` (Hub: ${hubSays})` : '';
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw new HubError(
      `${url}: HTTP ${res.status} ${res.statusText}${detail}: ${job.repo} does not exist, or it is private or ` +
        'gated and needs a token with access: set HF_TOKEN (or the token option)',
      job.dir,
      url,
    );
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw notFound(job, url, file, '', detail);
  }
  if (res.status === 416) {
    // The .part is not a prefix of the current file (it is as long or longer): start over.
    await res.body?.cancel();
    await fs.rm(part, { force: true });
    throw new TransientError(`HTTP 416 for a resumed download of ${file}; restarting it`);
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    throw new TransientError(`HTTP ${res.status} ${res.statusText}`);
  }
  let offset = 0;
  let total: number | undefined;
  if (res.status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== have) {
      await res.body?.cancel();
      await fs.rm(part, { force: true });
      throw new TransientError(`unexpected Content-Range ${res.headers.get('content-range')} for ${file}`);
    }
    const etagNow = strongEtag(res.headers.get('etag'));
    const changed = validator!.startsWith('sha256:')
      ? sha256 !== validator!.slice(7)
      : etagNow !== undefined && etagNow !== validator;
    if (changed) {
      // The server answered the range although the file is another version now: never splice.
      await res.body?.cancel();
      await fs.rm(part, { force: true });
      await fs.rm(etagFile, { force: true });
      throw new TransientError(`${file} changed on the server since the partial download; restarting it`);
    }
    offset = have;
    total = range[3] === '*' ? undefined : Number(range[3]);
  } else {
    // A 200 is the whole file: the server ignored the Range (or If-Range found a changed file).
    const length = res.headers.get('content-length');
    const encoding = res.headers.get('content-encoding');
    // Content-Length counts the compressed bytes when a server compresses anyway; fetch decompresses.
    const compressed = encoding !== null && encoding !== 'identity';
    total = length === null || compressed ? undefined : Number(length);
    const etag = strongEtag(res.headers.get('etag'));
    await writeValidator(job, etagFile, etag ?? (sha256 ? `sha256:${sha256}` : undefined));
  }
  if (linkedSize !== undefined && total !== undefined && linkedSize !== total) {
    await res.body?.cancel();
    throw new HubError(
      `${url}: the response is ${total} bytes but the Hub announces ${linkedSize} for ${file}`,
      job.dir,
      url,
    );
  }
  // Never write more than announced (or, with no announcement, than the cap): a server that sends forever
  // must not fill the disk.
  const limit = total ?? linkedSize ?? capFor(job, file);
  const progress = createProgress({
    total: total === undefined ? 0 : Math.ceil(total / 1024),
    label: file,
    unit: 'kB',
    quiet: job.settings.quiet || (total ?? 0) < PROGRESS_MIN_BYTES,
  });
  const hash = createHash('sha256');
  if (offset > 0 && sha256) {
    // Local work, not a stall: keep the deadline away while the prefix is hashed.
    for await (const chunk of createReadStream(part, { end: offset - 1 })) {
      hash.update(chunk as Buffer);
      stall.touch();
    }
  }
  const handle = await openNoFollow(job, part, offset > 0);
  let written = offset;
  let reported = Math.floor(offset / 1024);
  progress.tick(reported);
  try {
    if (res.body) {
      for await (const chunk of res.body) {
        stall.touch();
        if (written + chunk.byteLength > limit) {
          await res.body.cancel().catch(() => undefined);
          throw new OversizeError(
            `${url}: the server sent more than the ${limit} bytes ` +
              `${(total ?? linkedSize) ? 'it announced' : 'allowed (maxFileBytes)'} for ${file}; the partial file was removed`,
          );
        }
        await handle.write(chunk);
        if (sha256) hash.update(chunk);
        written += chunk.byteLength;
        const kb = Math.floor(written / 1024);
        if (kb > reported) {
          progress.tick(kb - reported);
          reported = kb;
        }
      }
    }
    await handle.sync();
  } catch (error) {
    if (error instanceof OversizeError) {
      await handle.close().catch(() => undefined);
      await fs.rm(part, { force: true });
      await fs.rm(etagFile, { force: true });
      throw new HubError(error.message, job.dir, url);
    }
    const reason = stall.controller.signal.aborted
      ? String((stall.controller.signal.reason as Error)?.message ?? 'stalled')
      : describeNetworkError(error);
    throw new TransientError(`connection lost after ${written} bytes of ${file}: ${reason}`);
  } finally {
    await handle.close().catch(() => undefined);
    progress.done();
  }
  if (total !== undefined && written !== total) {
    throw new TransientError(`connection closed after ${written} of ${total} bytes of ${file}`);
  }
  if (sha256) {
    const got = hash.digest('hex');
    if (got !== sha256) {
      await fs.rm(part, { force: true });
      await fs.rm(etagFile, { force: true });
      throw new TransientError(`${file} is corrupt: sha256 ${got}, but the Hub lists ${sha256}`);
    }
  }
  return true;
}

/**
 * GET `url`, following redirects by hand: the Hub's first answer for a large (LFS) file is a redirect to
 * a CDN whose `x-linked-etag` header is the file's sha256, and `fetch` hides the headers of redirects.
 * The token is not sent on to another origin.
 */
async function request(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<{ res: Response; sha256: string | undefined; linkedSize: number | undefined }> {
  let current = url;
  let sha256: string | undefined;
  let linkedSize: number | undefined;
  const sent = { ...headers };
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    let res: Response;
    try {
      res = await fetch(current, { headers: sent, redirect: 'manual', signal });
    } catch (error) {
      throw new TransientError(
        signal.aborted ? String((signal.reason as Error)?.message ?? 'stalled') : describeNetworkError(error),
      );
    }
    const linked = /^(?:W\/)?"?([0-9a-f]{64})"?$/.exec(res.headers.get('x-linked-etag') ?? '');
    if (linked) sha256 = linked[1];
    // The size the Hub's metadata announces for an LFS file (on the redirect to the CDN).
    const size = res.headers.get('x-linked-size');
    if (size !== null && /^\d+$/.test(size)) linkedSize = Number(size);
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || location === null) return { res, sha256, linkedSize };
    await res.body?.cancel();
    const next = new URL(location, current);
    if (next.origin !== new URL(current).origin) delete sent.authorization;
    current = next.href;
  }
  throw new TransientError(`more than ${MAX_REDIRECTS} redirects from ${url}`);
}
