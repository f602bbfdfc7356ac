import { promises as fs } from 'node:fs';
import { createInterface } from 'node:readline';
import { ArgumentError, InputFormatError } from '../errors.js';

/**
 * Line-by-line reading shared by the text formats (JSONL, qrels, runs), so that every parser reports the
 * same 1-based line numbers and none of them loads a whole file into memory.
 */

/** One line of a text file with its 1-based number. */
export interface NumberedLine {
  text: string;
  line: number;
}

/**
 * Stream the lines of `file` (UTF-8, `\n` or `\r\n`), skipping blank lines (unless `keepBlank`) and, when `comments` is set,
 * lines whose first non-blank character is `#`. A leading byte-order mark is dropped.
 *
 * @throws {InputFormatError} if `nonEmpty` is set and the file has no line left to parse.
 */
export async function* readLines(
  file: string,
  options: { comments?: boolean; nonEmpty?: boolean; keepBlank?: boolean } = {},
): AsyncGenerator<NumberedLine> {
  // Opening first makes a missing file fail here with ENOENT rather than inside readline.
  const handle = await fs.open(file, 'r');
  if ((await handle.stat()).isDirectory()) {
    await handle.close();
    throw new InputFormatError('is a directory, not a file', file);
  }
  const input = handle.createReadStream({ encoding: 'utf8' });
  const reader = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  let yielded = 0;
  try {
    for await (const raw of reader) {
      line++;
      const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      const trimmed = text.trim();
      if (trimmed === '' && !options.keepBlank) continue;
      if (options.comments && trimmed.startsWith('#')) continue;
      yielded++;
      yield { text, line };
    }
  } finally {
    reader.close();
    input.destroy();
    await handle.close().catch(() => undefined);
  }
  if (options.nonEmpty && yielded === 0) throw new InputFormatError('empty file', file);
}

/**
 * TREC text formats separate fields by whitespace, so an id containing whitespace (or an empty id) would
 * be written as a file that reads back differently; refuse it instead.
 *
 * @throws {ArgumentError} naming `argument`.
 */
export function assertTrecId(id: string, argument: string, what: string): void {
  if (id === '' || /\s/.test(id)) {
    throw new ArgumentError(argument, `${what} ${JSON.stringify(id)} is empty or contains whitespace`);
  }
}
