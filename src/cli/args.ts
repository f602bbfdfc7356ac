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

/** `--mips-transform auto|on|off` as the `HnswIndex` option (undefined when absent). */
export function parseMipsTransform(values: OptionValues): boolean | 'auto' | undefined {
  const v = optionalChoice(values, 'mips-transform', ['auto', 'on', 'off'] as const);
  return v === undefined ? undefined : v === 'auto' ? 'auto' : v === 'on';
}
