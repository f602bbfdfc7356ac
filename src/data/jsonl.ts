import { InputFormatError } from '../errors.js';
import { readLines } from './lines.js';

/**
 * Stream a JSON Lines file: one JSON value per line, blank lines skipped. Values are yielded with their
 * 1-based line number so callers can report errors in the data at the right place.
 *
 * @throws {InputFormatError} naming the file and line of the first line that is not valid JSON.
 * @example
 * ```ts
 * for await (const { value, line } of readJsonl('corpus.jsonl')) {
 *   console.log(line, value);
 * }
 * ```
 */
export async function* readJsonl(file: string): AsyncGenerator<{ value: unknown; line: number }> {
  for await (const { text, line } of readLines(file)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new InputFormatError(`invalid JSON: ${(error as Error).message}`, file, line);
    }
    yield { value, line };
  }
}

/**
 * Read a required string field of a JSON object read from `file` at `line`. Numbers are accepted and
 * converted, since some BEIR exports write numeric ids.
 *
 * @throws {InputFormatError} if the value is not an object, or the field is missing or not a string/number.
 */
export function stringField(value: unknown, field: string, file: string, line: number): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputFormatError(`expected a JSON object, got ${describe(value)}`, file, line);
  }
  const v = (value as Record<string, unknown>)[field];
  if (v === undefined || v === null) throw new InputFormatError(`missing field '${field}'`, file, line);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') {
    throw new InputFormatError(`field '${field}' must be a string, got ${describe(v)}`, file, line);
  }
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
