import path from 'node:path';
import { ROUTER_CONFIG, sentenceTransformersConfig } from '../../checkpoint/sentence-transformers.js';
import { writeModelDir } from '../../checkpoint/model-dir.js';
import type { SaveOptions } from '../../checkpoint/model-dir.js';
import { ArgumentError } from '../../errors.js';
import { writeFileAtomic } from '../../util/atomic.js';
import type { SentenceEncoder } from '../sentence-encoder.js';

/**
 * Untied towers as one sentence-transformers model: the v5 `Router` module with a `query` and a `document`
 * route (`Router.for_query_document`), which Python loads with `SentenceTransformer(dir)` and uses through
 * `encode_query` / `encode_document`. Layout (see docs/checkpoints.md):
 *
 * ```
 * modules.json                     [{ "idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Router" }]
 * router_config.json               { "types": {id: class}, "structure": {"query": [ids], "document": [ids]},
 *                                    "parameters": {"default_route": "document", "allow_empty_key": true} }
 * config_sentence_transformers.json   prompts, default_prompt_name, similarity_fn_name
 * query_0_Transformer/  query_1_Pooling/  [query_2_Normalize/]
 * document_0_Transformer/  document_1_Pooling/  [document_2_Normalize/]
 * ```
 */

export const ROUTER_TYPE = 'sentence_transformers.models.Router';

/** What {@link saveAsRouter} needs of a bi-encoder (a structural type: `BiEncoder` itself calls it). */
export interface RouterTowers {
  readonly tied: boolean;
  readonly queryEncoder: unknown;
  readonly passageEncoder: unknown;
  readonly similarity: string;
}

/** Whether a tower can be written as a Router route (a {@link SentenceEncoder}). */
export function isRouteEncoder(tower: unknown): tower is SentenceEncoder {
  return typeof (tower as Partial<SentenceEncoder> | null)?.saveRouteModules === 'function';
}

/**
 * Save an untied bi-encoder of {@link SentenceEncoder} towers as a sentence-transformers `Router` model,
 * as one unit with a manifest checked on load (`writeModelDir`; `options.overwrite` as there): what
 * `BiEncoder.save` does for such towers. The prompts saved are the query tower's, then the passage tower's for names it lacks.
 *
 * @throws {ArgumentError} for tied towers (save those with `BiEncoder.save`) or towers that are not
 *   SentenceEncoders.
 * @example
 * ```ts
 * await saveAsRouter(BiEncoder.untied(q, p, { similarity: 'cosine' }), 'runs/untied-router');
 * ```
 */
export async function saveAsRouter(
  model: RouterTowers,
  dir: string,
  options: SaveOptions = {},
): Promise<void> {
  if (model.tied) throw new ArgumentError('model', 'is tied: save it with BiEncoder.save (one tower)');
  const towers: [string, unknown][] = [
    ['query', model.queryEncoder],
    ['document', model.passageEncoder],
  ];
  for (const [name, tower] of towers) {
    if (!isRouteEncoder(tower)) {
      throw new ArgumentError(
        'model',
        `the ${name} tower is not a SentenceEncoder; it cannot be saved as a Router route`,
      );
    }
  }
  const [query, document] = towers.map(([, t]) => t as SentenceEncoder);
  // One truncate_dim for the model, as in sentence-transformers: towers of different widths would not compare.
  if (query.truncateDim !== document.truncateDim) {
    throw new ArgumentError(
      'truncateDim',
      `the query tower truncates to ${String(query.truncateDim)} dims but the document tower to ` +
        `${String(document.truncateDim)}; a Router model has one truncate_dim`,
    );
  }
  await writeModelDir(
    dir,
    async (tmp) => {
      const types: Record<string, string> = {};
      const structure: Record<string, string[]> = {};
      for (const [route, encoder] of [
        ['query', query],
        ['document', document],
      ] as const) {
        const modules = await encoder.saveRouteModules(tmp, route);
        Object.assign(types, modules);
        structure[route] = Object.keys(modules);
      }
      const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
      await writeFileAtomic(
        path.join(tmp, 'modules.json'),
        json([{ idx: 0, name: '0', path: '', type: ROUTER_TYPE }]),
      );
      await writeFileAtomic(
        path.join(tmp, ROUTER_CONFIG),
        json({ types, structure, parameters: { default_route: 'document', allow_empty_key: true } }),
      );
      const prompts = { ...document.prompts, ...query.prompts };
      await writeFileAtomic(
        path.join(tmp, 'config_sentence_transformers.json'),
        json(
          sentenceTransformersConfig(
            { prompts, defaultPromptName: undefined, truncateDim: query.truncateDim },
            model.similarity,
          ),
        ),
      );
    },
    options,
  );
}
