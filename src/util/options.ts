import { ArgumentError } from '../errors.js';

/**
 * Refuse option keys a function does not know. From plain JavaScript (no type checker) a misspelt or
 * foreign option — `{ normalize_embeddings: true }`, `{ showProgresBar: false }` — would otherwise be
 * ignored silently and the call would return numbers computed with the defaults.
 *
 * `options` may be `undefined` or `null` (no options given); anything else but a plain object is an
 * `ArgumentError` too. The error names the function, every unknown key, and the keys it accepts, with the
 * nearest accepted key when one is close (edit distance <= 2, or the same letters ignoring case and `_`).
 *
 * @throws {ArgumentError} `options` (argument name `name`) is not an object or has keys outside `allowed`.
 *
 * @example
 * ```ts
 * checkOptionKeys('encode', options, ['batchSize', 'progress', 'quiet', 'maxLength', 'normalize']);
 * // encode({ normalise: true }) -> ArgumentError: options: unknown option 'normalise' of encode
 * //   (did you mean 'normalize'?); accepted: batchSize, progress, quiet, maxLength, normalize
 * ```
 */
export function checkOptionKeys(
  name: string,
  options: unknown,
  allowed: readonly string[],
  argument = 'options',
): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ArgumentError(argument, `${name} expects an options object, got ${describe(options)}`);
  }
  const unknown = Object.keys(options).filter((k) => !allowed.includes(k));
  if (unknown.length === 0) return;
  const parts = unknown.map((k) => {
    const near = nearest(k, allowed);
    return near === undefined ? `'${k}'` : `'${k}' (did you mean '${near}'?)`;
  });
  throw new ArgumentError(
    argument,
    `unknown option${unknown.length > 1 ? 's' : ''} ${parts.join(', ')} of ${name}; ` +
      `accepted: ${allowed.join(', ')}`,
  );
}

function describe(v: unknown): string {
  return Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v;
}

const squash = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');

/** The accepted key closest to `key`, if it is close enough to be a likely typo or a snake_case spelling. */
function nearest(key: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = squash(candidate) === squash(key) ? 0 : levenshtein(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= 2 ? best : undefined;
}

// Own code rather than a dependency: a dozen lines, used only to phrase an error message.
function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/**
 * The keys of an options type as a runtime list, for {@link checkOptionKeys}. The argument must name every
 * key of `T` and no other, so adding an option to the interface without adding it here fails to compile
 * (instead of the new option being refused at run time).
 *
 * @example
 * ```ts
 * const KEYS = optionKeys<{ batchSize?: number; quiet?: boolean }>({ batchSize: true, quiet: true });
 * ```
 */
export function optionKeys<T>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys);
}
