import { existsSync } from 'node:fs';
import { parseDecimal, parseInteger } from '../util/number.js';
import { UsageError } from './errors.js';
import type { OptionValues } from './command.js';

/** Typed accessors over parsed flags; every failure names the flag. */

export function requireString(values: OptionValues, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`missing required option --${name}`);
  return v;
}

export function optionalString(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function requireFile(values: OptionValues, name: string): string {
  const file = requireString(values, name);
  if (!existsSync(file)) throw new UsageError(`--${name}: no such file: ${file}`);
  return file;
}

export function optionalInt(
  values: OptionValues,
  name: string,
  min = Number.MIN_SAFE_INTEGER,
): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' ? parseInteger(v) : undefined;
  if (n === undefined) {
    throw new UsageError(`--${name} expects an integer, got '${String(v)}'`);
  }
  if (n < min) throw new UsageError(`--${name} must be >= ${min}, got ${n}`);
  return n;
}

export function optionalFloat(values: OptionValues, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = typeof v === 'string' ? parseDecimal(v) : undefined;
  if (n === undefined) {
    throw new UsageError(`--${name} expects a number, got '${String(v)}'`);
  }
  return n;
}

export function optionalChoice<T extends string>(
  values: OptionValues,
  name: string,
  choices: readonly T[],
): T | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new UsageError(`--${name} must be one of ${choices.join('|')}, got '${String(v)}'`);
  }
  return v as T;
}

/**
 * Edit distance with adjacent transpositions (optimal string alignment: `stpes` is one edit from `steps`).
 * Own code rather than a dependency: a dozen lines, and the CLI's start-up must stay light.
 */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/**
 * The known flag nearest to an unknown one (`--stpes` -> `--steps`, `--batchsize` -> `--batch-size`), when
 * it is close enough to be a typo: at most a third of its length away, or a prefix of one flag only.
 */
export function nearestFlag(given: string, known: string[]): string | undefined {
  const name = given.replace(/^-+/, '').split('=')[0];
  const prefixed = known.filter((k) => k.startsWith(name));
  if (name.length >= 2 && prefixed.length === 1) return prefixed[0];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = Math.min(editDistance(name, k), editDistance(name.replace(/[-_]/g, ''), k.replace(/-/g, '')));
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** `--mips-transform auto|on|off` as the `HnswIndex` option (undefined when absent). */
export function parseMipsTransform(values: OptionValues): boolean | 'auto' | undefined {
  const v = optionalChoice(values, 'mips-transform', ['auto', 'on', 'off'] as const);
  return v === undefined ? undefined : v === 'auto' ? 'auto' : v === 'on';
}

/**
 * `--flag -3` rewritten as `--flag=-3` for options that take a value. node's `util.parseArgs` refuses a
 * value that starts with '-' after a space ("argument is ambiguous"), so a negative number would never
 * reach the option's own check, which says what the flag accepts. Only number-like values are joined, so
 * a forgotten value (`--out --quiet`) is still reported as missing.
 */
export function joinNegativeValues(
  args: string[],
  options: Record<string, { type: 'string' | 'boolean'; short?: string }>,
): string[] {
  const takesValue = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== 'string') continue;
    takesValue.add(`--${name}`);
    if (option.short !== undefined) takesValue.add(`-${option.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--') return [...out, ...args.slice(i)];
    const next = args[i + 1];
    if (takesValue.has(arg) && next !== undefined && /^-(?:\d|\.\d|Infinity\b|NaN\b)/i.test(next)) {
      out.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`); // -k-3: parseArgs' short form
      i++;
    } else out.push(arg);
  }
  return out;
}
