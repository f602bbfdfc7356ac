import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ArgumentError, InputFormatError } from '../errors.js';
import { POOLING_MODES } from './pooling-modes.js';
import type { PoolingMode } from './pooling-modes.js';
import { writeFileAtomic } from '../util/atomic.js';
import { safeRelative } from './model-dir.js';

/**
 * The sentence-transformers directory layout (see docs/checkpoints.md): `modules.json` lists the modules
 * (Transformer, Pooling, optional Normalize), `1_Pooling/config.json` says how tokens are pooled,
 * `sentence_bert_config.json` caps the sequence length. Reading it is what keeps a mean-pooled model from
 * being used with CLS pooling by mistake.
 */

/** What a sentence-transformers checkpoint says about how to embed. */
export interface SentenceTransformersLayout {
  /** Directory of the Transformer module (config.json, weights, tokenizer); usually the model root. */
  transformerDir: string;
  /** Pooling from the Pooling module's config. */
  pooling: PoolingMode;
  /** Whether a Normalize module follows pooling. */
  normalize: boolean;
  /** `max_seq_length` of sentence_bert_config.json, when set. */
  maxSeqLength: number | undefined;
  /** The Pooling module's `include_prompt` (default true): false leaves prompt tokens out of pooling. */
  includePrompt: boolean;
  /** `prompts` of config_sentence_transformers.json: name -> text prepended to inputs (e5: "query: "). */
  prompts: Record<string, string>;
  /** `default_prompt_name` of config_sentence_transformers.json, when set. */
  defaultPromptName: string | undefined;
  /** Folders of the `Dense` modules between Pooling and Normalize, in order. */
  denseDirs: string[];
  /**
   * `similarity_fn_name` of config_sentence_transformers.json (sentence-transformers >= 3): the similarity
   * the model was trained for; `undefined` when the file does not say.
   */
  similarity: StSimilarity | undefined;
  /**
   * `truncate_dim` of config_sentence_transformers.json: the Matryoshka width `encode` truncates to by
   * default; `undefined` when absent or null (all dimensions).
   */
  truncateDim?: number;
}

/** sentence-transformers' `similarity_fn_name` values. */
export const ST_SIMILARITIES = ['cosine', 'dot', 'euclidean', 'manhattan'] as const;
/** A sentence-transformers similarity function name. */
export type StSimilarity = (typeof ST_SIMILARITIES)[number];

/** The file of a sentence-transformers model that holds `similarity_fn_name`. */
export const ST_CONFIG_FILE = 'config_sentence_transformers.json';

/**
 * `similarity_fn_name` of `dir/config_sentence_transformers.json`; `undefined` when the file or the key
 * is absent (or null). sentence-transformers' aliases (`dot_product`, `cos_sim`, ...) are accepted.
 *
 * @throws {InputFormatError} an unknown similarity name, or invalid JSON.
 * @example
 * ```ts
 * await readSimilarityFnName('runs/cosine-model'); // 'cosine'
 * ```
 */
export async function readSimilarityFnName(dir: string): Promise<StSimilarity | undefined> {
  const file = path.join(dir, ST_CONFIG_FILE);
  const config = (await readJsonFile(file)) as Record<string, unknown> | undefined;
  if (config === undefined || config === null || typeof config !== 'object') return undefined;
  const raw = config.similarity_fn_name;
  if (raw === undefined || raw === null) return undefined;
  const aliases: Record<string, StSimilarity> = {
    cosine: 'cosine',
    cos_sim: 'cosine',
    dot: 'dot',
    dot_product: 'dot',
    dot_score: 'dot',
    euclidean: 'euclidean',
    manhattan: 'manhattan',
  };
  const name = typeof raw === 'string' ? aliases[raw] : undefined;
  if (name === undefined) {
    throw new InputFormatError(
      `unknown similarity_fn_name ${JSON.stringify(raw)} (expected one of ${ST_SIMILARITIES.join(', ')})`,
      file,
    );
  }
  return name;
}

/**
 * Set `similarity_fn_name` in `dir/config_sentence_transformers.json` (created when absent), keeping its
 * other keys; written atomically.
 *
 * @example
 * ```ts
 * await writeSimilarityFnName('out/model', 'cosine');
 * ```
 */
export async function writeSimilarityFnName(dir: string, similarity: StSimilarity): Promise<void> {
  const file = path.join(dir, ST_CONFIG_FILE);
  const config = ((await readJsonFile(file)) as Record<string, unknown> | undefined) ?? {};
  await writeFileAtomic(file, json({ ...config, similarity_fn_name: similarity }));
}

/** Settings written by {@link writeSentenceTransformersFiles}. */
export interface SentenceTransformersSettings {
  pooling: PoolingMode;
  normalize: boolean;
  maxSeqLength: number;
  /** Width of the token embeddings (hidden size). */
  dimension: number;
  /** Default true; written only when false (older sentence-transformers do not know the key). */
  includePrompt?: boolean;
  /** Written to config_sentence_transformers.json. */
  prompts?: Record<string, string>;
  defaultPromptName?: string;
  /** Number of Dense modules (written by the caller into `2_Dense/`, `3_Dense/` ...). */
  dense?: number;
  /** Written as `similarity_fn_name` when set. */
  similarity?: StSimilarity;
  /** Written as `truncate_dim` when set (the default Matryoshka width of `encode`). */
  truncateDim?: number;
}

const TYPE_TRANSFORMER = 'sentence_transformers.models.Transformer';
const TYPE_POOLING = 'sentence_transformers.models.Pooling';
const TYPE_NORMALIZE = 'sentence_transformers.models.Normalize';
const TYPE_DENSE = 'sentence_transformers.models.Dense';

// The sentence-transformers version whose file format we write (the oldest that reads safetensors
// checkpoints through transformers); newer versions read it unchanged.
const ST_VERSION = '2.2.2';

async function readJsonFile(file: string): Promise<unknown | undefined> {
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file);
  }
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

const LEGACY_KEYS: Record<string, PoolingMode | undefined> = {
  pooling_mode_cls_token: 'cls',
  pooling_mode_mean_tokens: 'mean',
  pooling_mode_max_tokens: 'max',
  pooling_mode_mean_sqrt_len_tokens: 'mean_sqrt_len_tokens',
  pooling_mode_weightedmean_tokens: 'weightedmean',
  pooling_mode_lasttoken: 'lasttoken',
};

/**
 * The Pooling module's `include_prompt` (sentence-transformers >= 2.4): whether prompt tokens count in pooling.
 *
 * @example
 * ```ts
 * parseIncludePrompt({ pooling_mode: 'mean', include_prompt: false }); // false
 * ```
 */
export function parseIncludePrompt(json: unknown, file?: string): boolean {
  const v = (json as Record<string, unknown>).include_prompt;
  if (v === undefined || v === null) return true;
  if (typeof v !== 'boolean') {
    throw new InputFormatError(`"include_prompt" must be true or false, got ${JSON.stringify(v)}`, file);
  }
  return v;
}

/**
 * `prompts` and `default_prompt_name` of a parsed `config_sentence_transformers.json`.
 *
 * @example
 * ```ts
 * parsePrompts({ prompts: { query: 'query: ', document: 'passage: ' }, default_prompt_name: null });
 * ```
 */
export function parsePrompts(
  json: unknown,
  file?: string,
): { prompts: Record<string, string>; defaultPromptName: string | undefined } {
  if (json === undefined) return { prompts: {}, defaultPromptName: undefined };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InputFormatError('expected a JSON object', file);
  }
  const raw = json as Record<string, unknown>;
  const prompts: Record<string, string> = {};
  if (raw.prompts !== undefined && raw.prompts !== null) {
    if (typeof raw.prompts !== 'object' || Array.isArray(raw.prompts)) {
      throw new InputFormatError('"prompts" must be an object of name -> prompt text', file);
    }
    for (const [name, text] of Object.entries(raw.prompts as Record<string, unknown>)) {
      if (typeof text !== 'string') {
        throw new InputFormatError(
          `prompt ${JSON.stringify(name)} must be a string, got ${JSON.stringify(text)}`,
          file,
        );
      }
      prompts[name] = text;
    }
  }
  const d = raw.default_prompt_name;
  if (d !== undefined && d !== null && (typeof d !== 'string' || !(d in prompts))) {
    throw new InputFormatError(
      `"default_prompt_name" ${JSON.stringify(d)} is not one of the prompts (${Object.keys(prompts).join(', ') || 'none'})`,
      file,
    );
  }
  return { prompts, defaultPromptName: typeof d === 'string' ? d : undefined };
}

/**
 * The pooling of a `1_Pooling/config.json`, from the newer `pooling_mode` key or the legacy
 * `pooling_mode_*_tokens` booleans. Modes we do not implement, and combinations (which sentence-transformers
 * concatenates), are errors rather than a silent substitute.
 *
 * @example
 * ```ts
 * parsePoolingConfig({ pooling_mode_mean_tokens: true, pooling_mode_cls_token: false }); // 'mean'
 * parsePoolingConfig({ pooling_mode: 'cls' }); // 'cls'
 * ```
 */
export function parsePoolingConfig(json: unknown, file?: string): PoolingMode {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InputFormatError('pooling config must be a JSON object', file);
  }
  const raw = json as Record<string, unknown>;
  const supported = `supported: ${POOLING_MODES.join(', ')}`;
  if (raw.pooling_mode !== undefined && raw.pooling_mode !== null) {
    const mode = raw.pooling_mode;
    // sentence-transformers accepts these older spellings of three modes too.
    const aliases: Record<string, string> = { mean_tokens: 'mean', max_tokens: 'max', cls_token: 'cls' };
    const alias = typeof mode === 'string' ? (aliases[mode] ?? mode) : mode;
    if (typeof alias !== 'string' || !(POOLING_MODES as readonly string[]).includes(alias)) {
      throw new InputFormatError(`unsupported pooling_mode ${JSON.stringify(mode)} (${supported})`, file);
    }
    return alias as PoolingMode;
  }
  const on = Object.keys(LEGACY_KEYS).filter((k) => raw[k] === true);
  if (on.length === 0) {
    throw new InputFormatError(
      `no pooling mode set (expected pooling_mode or one pooling_mode_*_tokens: true)`,
      file,
    );
  }
  if (on.length > 1) {
    throw new InputFormatError(
      `several pooling modes set (${on.join(', ')}); only one is supported (${supported})`,
      file,
    );
  }
  const mode = LEGACY_KEYS[on[0]];
  if (mode === undefined) throw new InputFormatError(`unsupported pooling ${on[0]} (${supported})`, file);
  return mode;
}

/** What reading modules.json collects. */
interface ModuleState {
  transformerDir: string | undefined;
  poolingPath: string | undefined;
  normalize: boolean;
  denseDirs: string[];
}

type ModuleReader = (
  state: ModuleState,
  moduleDir: string,
  index: number,
  fail: (why: string) => InputFormatError,
) => void;

/**
 * The module types we read, keyed by class name: the last segment of modules.json's `type`
 * (`sentence_transformers.models.Pooling`, v5's `sentence_transformers.models.Pooling.Pooling`, or a
 * subclass's module path). The Router module is read before these (it replaces the whole list).
 */
const MODULE_READERS: Record<string, ModuleReader | undefined> = {
  Transformer: (state, moduleDir, index, fail) => {
    if (index !== 0) throw fail(`the Transformer must be the first module, found it at ${index}`);
    state.transformerDir = moduleDir;
  },
  Pooling: (state, moduleDir) => {
    state.poolingPath = moduleDir;
  },
  Dense: (state, moduleDir, _index, fail) => {
    if (state.poolingPath === undefined || state.normalize) {
      throw fail('a Dense module must come after Pooling and before Normalize');
    }
    state.denseDirs.push(moduleDir);
  },
  Normalize: (state, _moduleDir, _index, fail) => {
    if (state.poolingPath === undefined)
      throw fail('a Normalize module before the Pooling module is not supported');
    state.normalize = true;
  },
};

/** The class name of a modules.json `type` string. */
function moduleKind(type: string): string {
  return type.slice(type.lastIndexOf('.') + 1);
}

/**
 * Read the sentence-transformers files of `dir`; `undefined` when it has no `modules.json` (a plain
 * Hugging Face checkpoint). Unsupported modules (e.g. `Dense`) are errors naming the module type.
 *
 * @example
 * ```ts
 * const layout = await readSentenceTransformersLayout('all-MiniLM-L6-v2');
 * // { transformerDir: 'all-MiniLM-L6-v2', pooling: 'mean', normalize: true, maxSeqLength: 256 }
 * ```
 */
export async function readSentenceTransformersLayout(
  dir: string,
  route?: string,
): Promise<SentenceTransformersLayout | undefined> {
  const modulesFile = path.join(dir, 'modules.json');
  const listed = await readJsonFile(modulesFile);
  if (listed === undefined) return undefined;
  if (!Array.isArray(listed)) throw new InputFormatError('expected a JSON array of modules', modulesFile);
  let modules: unknown[] = listed;
  const first = modules[0] as { type?: unknown } | undefined;
  if (typeof first?.type === 'string' && moduleKind(first.type) === 'Router') {
    // The route's modules, then whatever follows the Router in modules.json (e.g. a shared Normalize).
    modules = [...(await routeModules(dir, route)), ...modules.slice(1)];
  } else if (route !== undefined) {
    throw new ArgumentError('route', `'${route}' given, but ${modulesFile} has no Router module`);
  }
  const state: ModuleState = {
    transformerDir: undefined,
    poolingPath: undefined,
    normalize: false,
    denseDirs: [],
  };
  modules.forEach((m: unknown, i) => {
    const mod = m as { type?: unknown; path?: unknown; file?: string };
    if (mod === null || typeof mod !== 'object' || typeof mod.type !== 'string') {
      throw new InputFormatError(`module ${i} has no "type"`, modulesFile);
    }
    // A Router's route modules come from router_config.json: errors about them name that file.
    const listFile = mod.file ?? modulesFile;
    const modPath = typeof mod.path === 'string' ? mod.path : '';
    // The hub downloader refuses such paths; a local directory (and a Router's route modules) follows the
    // same rule, so a model cannot make us read files outside its own folder.
    if (modPath !== '' && !safeRelative(modPath.replace(/\/+$/, ''))) {
      throw new InputFormatError(
        `module ${i} has path ${JSON.stringify(modPath)}, which leaves the model directory`,
        listFile,
      );
    }
    const kind = moduleKind(mod.type);
    const reader = MODULE_READERS[kind];
    if (reader === undefined) {
      throw new InputFormatError(
        kind === 'Router'
          ? `a Router module must be the first module (found at ${i})`
          : `unsupported module type ${mod.type} (supported: ${Object.keys(MODULE_READERS).join(', ')}, Router)`,
        listFile,
      );
    }
    const fail = (why: string): InputFormatError => new InputFormatError(why, listFile);
    reader(state, path.join(dir, modPath), i, fail);
  });
  const { transformerDir, poolingPath, normalize, denseDirs } = state;
  if (transformerDir === undefined) throw new InputFormatError('no Transformer module', modulesFile);
  if (poolingPath === undefined) throw new InputFormatError('no Pooling module', modulesFile);
  const poolingFile = path.join(poolingPath, 'config.json');
  const poolingJson = await readJsonFile(poolingFile);
  if (poolingJson === undefined) {
    throw new InputFormatError(
      'file not found; modules.json lists a Pooling module that needs it',
      poolingFile,
    );
  }
  const pooling = parsePoolingConfig(poolingJson, poolingFile);
  const includePrompt = parseIncludePrompt(poolingJson, poolingFile);
  const stConfigFile = path.join(dir, 'config_sentence_transformers.json');
  const stConfig = await readJsonFile(stConfigFile);
  const { prompts, defaultPromptName } = parsePrompts(stConfig, stConfigFile);
  const truncateDim = parseTruncateDim(stConfig, stConfigFile);
  const sbertFile = path.join(transformerDir, 'sentence_bert_config.json');
  const sbert = (await readJsonFile(sbertFile)) as Record<string, unknown> | undefined;
  let maxSeqLength: number | undefined;
  if (sbert !== undefined && sbert.max_seq_length !== undefined && sbert.max_seq_length !== null) {
    const v = sbert.max_seq_length;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 2) {
      throw new InputFormatError(
        `"max_seq_length" must be an integer >= 2, got ${JSON.stringify(v)}`,
        sbertFile,
      );
    }
    maxSeqLength = v;
  }
  return {
    transformerDir,
    pooling,
    normalize,
    maxSeqLength,
    includePrompt,
    prompts,
    defaultPromptName,
    denseDirs,
    similarity: await readSimilarityFnName(dir),
    ...(truncateDim === undefined ? {} : { truncateDim }),
  };
}

/**
 * `truncate_dim` of a parsed `config_sentence_transformers.json` (sentence-transformers >= 2.7): the
 * Matryoshka width the model encodes to by default; `undefined` when absent or null.
 *
 * @throws {InputFormatError} a value that is not an integer >= 1.
 * @example
 * ```ts
 * parseTruncateDim({ truncate_dim: 256 }); // 256
 * ```
 */
export function parseTruncateDim(json: unknown, file?: string): number | undefined {
  if (json === undefined || json === null || typeof json !== 'object') return undefined;
  const v = (json as Record<string, unknown>).truncate_dim;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new InputFormatError(
      `"truncate_dim" must be an integer >= 1 or null, got ${JSON.stringify(v)}`,
      file,
    );
  }
  return v;
}

/** The file sentence-transformers' `Router` keeps its routes in. */
export const ROUTER_CONFIG = 'router_config.json';

/**
 * The modules of one route of a `Router` model (sentence-transformers v5), as modules.json entries whose paths
 * are the route's module folders: `route` (default: the config's `default_route`, else the first route).
 */
async function routeModules(
  dir: string,
  route: string | undefined,
): Promise<{ type: string; path: string; file: string }[]> {
  const file = path.join(dir, ROUTER_CONFIG);
  const config = (await readJsonFile(file)) as
    | {
        types?: Record<string, unknown>;
        structure?: Record<string, unknown>;
        parameters?: Record<string, unknown>;
      }
    | undefined;
  if (config === undefined)
    throw new InputFormatError('file not found; modules.json lists a Router module', file);
  if (
    typeof config !== 'object' ||
    config === null ||
    typeof config.types !== 'object' ||
    config.types === null
  ) {
    throw new InputFormatError('expected "types" and "structure" objects', file);
  }
  const structure = (config.structure ?? {}) as Record<string, unknown>;
  const routes = Object.keys(structure);
  const defaultRoute = config.parameters?.default_route;
  const chosen = route ?? (typeof defaultRoute === 'string' ? defaultRoute : routes[0]);
  const ids = structure[chosen];
  if (!Array.isArray(ids)) {
    throw new InputFormatError(`no route '${chosen}' (routes: ${routes.join(', ') || 'none'})`, file);
  }
  return ids.map((id: unknown) => {
    const type = (config.types as Record<string, unknown>)[String(id)];
    if (typeof id !== 'string' || typeof type !== 'string') {
      throw new InputFormatError(`route '${chosen}' names module ${JSON.stringify(id)} without a type`, file);
    }
    return { type, path: id, file };
  });
}

/** The routes of a Router model directory and its default route, or undefined for another layout. */
export async function readRouterRoutes(
  dir: string,
): Promise<{ routes: string[]; defaultRoute: string | undefined } | undefined> {
  const config = (await readJsonFile(path.join(dir, ROUTER_CONFIG))) as
    { structure?: Record<string, unknown>; parameters?: Record<string, unknown> } | undefined;
  if (config === undefined || typeof config !== 'object' || config === null) return undefined;
  const d = config.parameters?.default_route;
  return { routes: Object.keys(config.structure ?? {}), defaultRoute: typeof d === 'string' ? d : undefined };
}

/**
 * The `1_Pooling/config.json` of a pooling mode: exactly the keys all-MiniLM-L6-v2 ships, plus the key of a
 * newer mode or `include_prompt: false` only when used (every sentence-transformers version passes this file
 * to `Pooling(**config)`, so a key an older version does not know would make it fail).
 */
export function poolingConfig(s: SentenceTransformersSettings): Record<string, unknown> {
  return {
    word_embedding_dimension: s.dimension,
    pooling_mode_cls_token: s.pooling === 'cls',
    pooling_mode_mean_tokens: s.pooling === 'mean',
    pooling_mode_max_tokens: s.pooling === 'max',
    pooling_mode_mean_sqrt_len_tokens: s.pooling === 'mean_sqrt_len_tokens',
    ...(s.pooling === 'weightedmean' ? { pooling_mode_weightedmean_tokens: true } : {}),
    ...(s.pooling === 'lasttoken' ? { pooling_mode_lasttoken: true } : {}),
    ...(s.includePrompt === false ? { include_prompt: false } : {}),
  };
}

/** `config_sentence_transformers.json`: versions, prompts, default prompt and (when known) similarity. */
export function sentenceTransformersConfig(
  s: Pick<SentenceTransformersSettings, 'prompts' | 'defaultPromptName' | 'truncateDim'>,
  similarity?: string,
): Record<string, unknown> {
  return {
    __version__: { sentence_transformers: ST_VERSION, transformers: '4.30.0', pytorch: '1.13.0' },
    prompts: s.prompts ?? {},
    default_prompt_name: s.defaultPromptName ?? null,
    ...(similarity === undefined ? {} : { similarity_fn_name: similarity }),
    ...(s.truncateDim === undefined ? {} : { truncate_dim: s.truncateDim }),
  };
}

/**
 * Write the sentence-transformers files into a model directory whose root holds the Transformer module
 * (config.json, model.safetensors, tokenizer): `modules.json`, `sentence_bert_config.json`,
 * `1_Pooling/config.json`, `2_Normalize/` when normalizing, `config_sentence_transformers.json`.
 *
 * @example
 * ```ts
 * await writeSentenceTransformersFiles('out', { pooling: 'mean', normalize: true, maxSeqLength: 256, dimension: 384 });
 * ```
 */
export async function writeSentenceTransformersFiles(
  dir: string,
  s: SentenceTransformersSettings,
): Promise<void> {
  const modules: object[] = [
    { idx: 0, name: '0', path: '', type: TYPE_TRANSFORMER },
    { idx: 1, name: '1', path: '1_Pooling', type: TYPE_POOLING },
  ];
  for (let i = 0; i < (s.dense ?? 0); i++) {
    const idx = modules.length;
    modules.push({ idx, name: String(idx), path: `${idx}_Dense`, type: TYPE_DENSE });
  }
  if (s.normalize) {
    const idx = modules.length;
    modules.push({ idx, name: String(idx), path: `${idx}_Normalize`, type: TYPE_NORMALIZE });
    await fs.mkdir(path.join(dir, `${idx}_Normalize`), { recursive: true });
  }
  await writeFileAtomic(path.join(dir, 'modules.json'), json(modules));
  await writeFileAtomic(
    path.join(dir, 'sentence_bert_config.json'),
    json({ max_seq_length: s.maxSeqLength, do_lower_case: false }),
  );
  await writeFileAtomic(path.join(dir, '1_Pooling', 'config.json'), json(poolingConfig(s)));
  await writeFileAtomic(
    path.join(dir, 'config_sentence_transformers.json'),
    json(sentenceTransformersConfig(s, s.similarity)),
  );
}
