import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputFormatError } from '../errors.js';

/**
 * What a saved sentence-transformers directory is made of, read from its own files (modules.json, the
 * module folders' configs, router_config.json, config_sentence_transformers.json), for the model card:
 * the same modules `SentenceTransformer(dir)` would print.
 */

/** One module of a saved model, as the model card lists it. */
export interface ModuleDescription {
  /** sentence-transformers class name: Transformer, Pooling, Dense, Normalize. */
  name: string;
  /** The settings sentence-transformers prints for it (`Transformer` also has `architecture`). */
  settings: Record<string, unknown>;
}

/** A saved model's layout. */
export interface ModelArchitecture {
  /** `modules`: one module list; `router`: a sentence-transformers Router; `towers`: `query/` + `passage/`. */
  layout: 'modules' | 'router' | 'towers';
  /** Tied: one module list. Untied (a `Router` model, or `query/` + `passage/` towers): one per route. */
  routes: Record<string, ModuleDescription[]>;
  /** Output width (the last Pooling or Dense). */
  dimension?: number;
  maxSeqLength?: number;
  /** `similarity_fn_name` of config_sentence_transformers.json. */
  similarity?: string;
  /** Prompts of config_sentence_transformers.json. */
  prompts?: Record<string, string>;
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch (error) {
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file);
  }
}

const shortType = (type: unknown): string => String(type).split('.').pop() ?? String(type);

/** The module in `dir/rel`, given its sentence-transformers class name. */
async function describeModule(dir: string, rel: string, name: string): Promise<ModuleDescription> {
  const folder = path.join(dir, rel);
  if (name === 'Transformer') {
    const sbert = (await readJson(path.join(folder, 'sentence_bert_config.json'))) ?? {};
    const config = (await readJson(path.join(folder, 'config.json'))) ?? {};
    const architectures = config.architectures;
    const architecture = Array.isArray(architectures)
      ? String(architectures[0])
      : String(config.model_type ?? '?');
    return {
      name,
      settings: {
        max_seq_length: sbert.max_seq_length,
        do_lower_case: sbert.do_lower_case ?? false,
        architecture,
        hidden_size: config.hidden_size ?? config.dim ?? config.d_model,
        num_hidden_layers: config.num_hidden_layers ?? config.n_layers,
      },
    };
  }
  if (name === 'Pooling' || name === 'Dense') {
    const config = (await readJson(path.join(folder, 'config.json'))) ?? {};
    // Pooling prints its dimension and the modes that are on (the `false` flags are noise).
    const settings = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== false));
    return { name, settings };
  }
  return { name, settings: {} };
}

/** The modules of the sentence-transformers model in `dir` (modules.json), `undefined` when it has none. */
async function describeModules(dir: string): Promise<Record<string, ModuleDescription[]> | undefined> {
  const file = path.join(dir, 'modules.json');
  let modules: unknown;
  try {
    modules = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file);
  }
  if (!Array.isArray(modules)) throw new InputFormatError('expected a list of modules', file);
  const list = modules as { path?: unknown; type?: unknown }[];
  if (list.length === 1 && shortType(list[0].type) === 'Router') {
    const router = (await readJson(path.join(dir, 'router_config.json'))) ?? {};
    const types = (router.types ?? {}) as Record<string, string>;
    const structure = (router.structure ?? {}) as Record<string, string[]>;
    const routes: Record<string, ModuleDescription[]> = {};
    for (const [route, ids] of Object.entries(structure)) {
      routes[route] = await Promise.all(ids.map((id) => describeModule(dir, id, shortType(types[id]))));
    }
    return routes;
  }
  return {
    '': await Promise.all(list.map((m) => describeModule(dir, String(m.path ?? ''), shortType(m.type)))),
  };
}

/**
 * Describe the saved model in `dir` from its files: a sentence-transformers directory (tied), a `Router`
 * model (its routes), or a bi-encoder with `query/` and `passage/` tower directories.
 *
 * @throws {InputFormatError} for a malformed modules.json or module config, naming the file.
 * @example
 * ```ts
 * const arch = await describeModelDir('runs/scifact');
 * arch.routes['']?.map((m) => m.name); // ['Transformer', 'Pooling', 'Normalize']
 * ```
 */
export async function describeModelDir(dir: string): Promise<ModelArchitecture> {
  let routes = await describeModules(dir);
  let stDir = dir;
  let layout: ModelArchitecture['layout'] =
    routes !== undefined && routes[''] === undefined ? 'router' : 'modules';
  if (routes === undefined) {
    const query = await describeModules(path.join(dir, 'query'));
    const passage = await describeModules(path.join(dir, 'passage'));
    if (query !== undefined && passage !== undefined) {
      routes = { query: query[''] ?? [], passage: passage[''] ?? [] };
      stDir = path.join(dir, 'query');
      layout = 'towers';
    }
  }
  routes ??= {};
  const stConfig = (await readJson(path.join(stDir, 'config_sentence_transformers.json'))) ?? {};
  const first = Object.values(routes)[0] ?? [];
  let dimension: number | undefined;
  for (const m of first) {
    const d = m.name === 'Dense' ? m.settings.out_features : m.settings.word_embedding_dimension;
    if (typeof d === 'number') dimension = d;
  }
  const maxSeqLength = first.find((m) => m.name === 'Transformer')?.settings.max_seq_length;
  return {
    layout,
    routes,
    dimension,
    maxSeqLength: typeof maxSeqLength === 'number' ? maxSeqLength : undefined,
    similarity: typeof stConfig.similarity_fn_name === 'string' ? stConfig.similarity_fn_name : undefined,
    prompts:
      stConfig.prompts !== null && typeof stConfig.prompts === 'object'
        ? (stConfig.prompts as Record<string, string>)
        : undefined,
  };
}

/** Python-like text of a settings object, as sentence-transformers prints a module: `{'a': 1, 'b': True}`. */
function pythonDict(settings: Record<string, unknown>): string {
  const value = (v: unknown): string =>
    typeof v === 'boolean'
      ? v
        ? 'True'
        : 'False'
      : typeof v === 'string'
        ? `'${v}'`
        : v === undefined
          ? 'None'
          : JSON.stringify(v);
  return `{${Object.entries(settings)
    .map(([k, v]) => `'${k}': ${value(v)}`)
    .join(', ')}}`;
}

/** One module as `SentenceTransformer.__repr__` shows it. */
function moduleLine(m: ModuleDescription): string {
  if (m.name === 'Transformer') {
    const { architecture, max_seq_length, do_lower_case } = m.settings;
    return `Transformer(${pythonDict({ max_seq_length, do_lower_case })}) with Transformer model: ${String(architecture)}`;
  }
  if (m.name === 'Normalize') return 'Normalize()';
  return `${m.name}(${pythonDict(m.settings)})`;
}

/**
 * The model's module tree in the form `print(SentenceTransformer(dir))` shows (a `Router` lists each route).
 *
 * @example
 * ```ts
 * formatArchitecture(await describeModelDir('runs/scifact'));
 * // SentenceTransformer(
 * //   (0): Transformer({'max_seq_length': 256, 'do_lower_case': False}) with Transformer model: BertModel
 * //   (1): Pooling({'word_embedding_dimension': 384, 'pooling_mode_mean_tokens': True})
 * // )
 * ```
 */
export function formatArchitecture(arch: ModelArchitecture): string {
  const entries = Object.entries(arch.routes);
  if (arch.layout === 'modules') {
    const lines = (arch.routes[''] ?? []).map((m, i) => `  (${i}): ${moduleLine(m)}`);
    return ['SentenceTransformer(', ...lines, ')'].join('\n');
  }
  if (arch.layout === 'towers') {
    const lines = ['BiEncoder('];
    for (const [route, modules] of entries) {
      lines.push(`  (${route}): SentenceTransformer(`);
      modules.forEach((m, i) => lines.push(`    (${i}): ${moduleLine(m)}`));
      lines.push('  )');
    }
    lines.push(')');
    return lines.join('\n');
  }
  const lines = ['SentenceTransformer(', '  (0): Router('];
  for (const [route, modules] of entries) {
    lines.push(`    (${route}): [`);
    modules.forEach((m, i) => lines.push(`      (${i}): ${moduleLine(m)}`));
    lines.push('    ]');
  }
  lines.push('  )', ')');
  return lines.join('\n');
}
