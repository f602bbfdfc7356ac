import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ArgumentError } from '../errors.js';
import { packageRoot } from '../util/package.js';

/** Prefix of a model source that means "random weights from this BERT config" (`scratch:<config.json>`). */
export const SCRATCH_PREFIX = 'scratch:';

/**
 * Named scratch configs shipped in the package (`assets/configs/`), usable as `scratch:<name>` from an npm
 * install, where the repository's `examples/configs/` does not exist. `tiny` is a 2-layer, 64-wide BERT
 * with the bert-base-uncased vocabulary: small enough to train for a few hundred steps on 2 CPU cores.
 */
export const SCRATCH_CONFIGS: Readonly<Record<string, string>> = {
  tiny: 'scratch-bert-2x64.json',
};

/**
 * The config file a `scratch:` source names: a built-in name of {@link SCRATCH_CONFIGS}, else a path to a
 * BERT `config.json`.
 *
 * @throws {ArgumentError} (argument `model`) when the file does not exist, naming the path as given.
 */
export function scratchConfigFile(source: string): string {
  const spec = source.startsWith(SCRATCH_PREFIX) ? source.slice(SCRATCH_PREFIX.length) : source;
  const builtIn = SCRATCH_CONFIGS[spec];
  if (builtIn !== undefined) return path.join(packageRoot(), 'assets', 'configs', builtIn);
  if (!existsSync(spec) || !statSync(spec).isFile()) {
    const names = Object.keys(SCRATCH_CONFIGS)
      .map((n) => `${SCRATCH_PREFIX}${n}`)
      .join(', ');
    throw new ArgumentError(
      'model',
      `scratch config '${spec}' not found (resolved to ${path.resolve(spec)}); give the path of a BERT config.json or a built-in name (${names})`,
    );
  }
  return spec;
}
