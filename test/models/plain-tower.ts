import type { TowerEncoder } from '../../src/models/bi-encoder.js';
import type { SentenceEncoder } from '../../src/models/sentence-encoder.js';

/**
 * A tower that is not a SentenceEncoder (no `saveRouteModules`), so that an untied BiEncoder of two of them is
 * saved in the `query/`, `passage/`, `bi_encoder.json` layout instead of a sentence-transformers Router.
 */
export function plainTower(encoder: SentenceEncoder): TowerEncoder {
  return {
    embed: (texts, options) => encoder.embed(texts, options),
    trainableVariables: () => encoder.trainableVariables(),
    save: (dir, options) => encoder.save(dir, options),
    encode: (texts, options) => encoder.encode(texts, options),
    dispose: () => encoder.dispose(),
  };
}
