import { parse as parseLossless } from 'lossless-json';
import { InputFormatError } from '../errors.js';
import { readLines } from './lines.js';

/** One parsed JSON Lines record with its 1-based line number and its source text. */
export interface JsonlRecord {
  value: unknown;
  line: number;
  /** The line as written, for reading numbers exactly (see {@link stringField}). */
  text: string;
}

/**
 * Stream a JSON Lines file: one JSON value per line, blank lines skipped. Values are yielded with their
 * 1-based line number so callers can report errors in the data at the right place.
 *
 * @throws {InputFormatError} naming the file and line of the first line that is not valid JSON or not
 *   valid UTF-8.
 * @example
 * ```ts
 * for await (const { value, line } of readJsonl('corpus.jsonl')) {
 *   console.log(line, value);
 * }
 * ```
 */
export async function* readJsonl(file: string): AsyncGenerator<{ value: unknown; line: number }> {
  for await (const { value, line } of readJsonlRecords(file)) yield { value, line };
}

/** Like {@link readJsonl}, also yielding each line's source text. */
export async function* readJsonlRecords(file: string): AsyncGenerator<JsonlRecord> {
  for await (const { text, line } of readLines(file)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new InputFormatError(`invalid JSON: ${(error as Error).message}`, file, line);
    }
    yield { value, line, text };
  }
}

/** The source text of a JSON number, as lossless-json hands it over. */
class NumberLiteral {
  constructor(readonly text: string) {}
}

/**
 * The literal text of the number in top-level field `field` of the JSON object `text`. `JSON.parse`
 * rounds numbers to doubles (`1234567890123456789` becomes `1234567890123456800`) and Node 20's
 * `JSON.parse` reviver does not see source text, so the line is parsed again with lossless-json, a
 * maintained parser that hands over every number's text; only lines with a numeric string field pay for
 * it.
 */
function numberLiteral(text: string, field: string): string | undefined {
  const v = losslessField(text, field);
  return v instanceof NumberLiteral ? v.text : undefined;
}

/** Top-level field `field` of the JSON object `text`, numbers as {@link NumberLiteral}s. */
function losslessField(text: string, field: string): unknown {
  const parsed = parseLossless(text, undefined, (s: string) => new NumberLiteral(s)) as Record<
    string,
    unknown
  >;
  return parsed[field];
}

/**
 * Read a required string field of a JSON object read from `file` at `line` (source text `text`). A
 * number is accepted, since BEIR writers emit numeric ids, and kept exactly as written in the file: the
 * literal token `1234567890123456789` (or `1.50`) is the string, never a rounded double.
 *
 * @throws {InputFormatError} if the value is not an object, or the field is missing or not a string/number.
 */
export function stringField(value: unknown, field: string, file: string, line: number, text: string): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InputFormatError(`expected a JSON object, got ${describe(value)}`, file, line);
  }
  const v = (value as Record<string, unknown>)[field];
  if (v === undefined || v === null) throw new InputFormatError(`missing field '${field}'`, file, line);
  if (typeof v === 'number') {
    const literal = numberLiteral(text, field);
    if (literal === undefined) {
      throw new InputFormatError(`cannot read field '${field}' as written`, file, line);
    }
    return literal;
  }
  if (typeof v !== 'string') {
    throw new InputFormatError(`field '${field}' must be a string, got ${describe(v)}`, file, line);
  }
  return v;
}

/**
 * Read an optional array-of-ids field (e.g. `negative_ids`) of a JSON object read from `file` at `line`
 * (source text `text`): strings, or numbers kept exactly as written, like {@link stringField}.
 *
 * @returns undefined when the field is absent or null.
 * @throws {InputFormatError} if the field is not an array, or an element is not a string/number.
 */
export function stringArrayField(
  value: unknown,
  field: string,
  file: string,
  line: number,
  text: string,
): string[] | undefined {
  const v = (value as Record<string, unknown>)[field];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    throw new InputFormatError(`field '${field}' must be an array, got ${describe(v)}`, file, line);
  }
  let literals: unknown[] | undefined;
  return v.map((x: unknown, i) => {
    if (typeof x === 'string') return x;
    if (typeof x === 'number') {
      literals ??= losslessField(text, field) as unknown[];
      const literal = literals[i];
      if (literal instanceof NumberLiteral) return literal.text;
      throw new InputFormatError(`cannot read element ${i} of field '${field}' as written`, file, line);
    }
    throw new InputFormatError(
      `element ${i} of field '${field}' must be a string, got ${describe(x)}`,
      file,
      line,
    );
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}
