import { promises as fs } from 'node:fs';
import { TextDecoder } from 'node:util';
import { ArgumentError, InputFormatError } from '../errors.js';

/**
 * Line-by-line reading shared by the text formats (JSONL, qrels, runs, id and text files), so that every
 * parser reports the same 1-based line numbers, refuses invalid UTF-8 the same way, and none of them loads
 * a whole file into memory.
 */

/** One line of a text file with its 1-based number. */
export interface NumberedLine {
  text: string;
  line: number;
}

/** Options of {@link readLines}. */
export interface ReadLinesOptions {
  /** Skip lines whose first non-blank character is `#`. */
  comments?: boolean;
  /** Throw if no line is left to parse. */
  nonEmpty?: boolean;
  /** Yield blank lines too (files whose line number is a row number, e.g. one text per line). */
  keepBlank?: boolean;
}

const NEWLINE = 0x0a;

/**
 * Decode one line's bytes as strict UTF-8. Node's `'utf8'` stream decoding replaces invalid bytes with
 * U+FFFD, which silently merges ids such as `d4\xff` and `d4\xfe`; a fatal decoder refuses them instead.
 */
function decodeLine(decoder: TextDecoder, bytes: Uint8Array, file: string, line: number): string {
  try {
    return decoder.decode(bytes);
  } catch {
    const bad = firstInvalidByte(bytes);
    throw new InputFormatError(`invalid UTF-8 at byte ${bad + 1} of the line`, file, line);
  }
}

/** Offset of the first byte where `bytes` stops being valid UTF-8 (for the error message). */
function firstInvalidByte(bytes: Uint8Array): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let lo = 0;
  let hi = bytes.length;
  // The longest valid prefix, by bisection: prefixes ending inside a sequence are invalid too, so this
  // points at the start of (or into) the first bad sequence, close enough to find it with a hex viewer.
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    try {
      decoder.decode(bytes.subarray(0, mid));
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}

/**
 * Stream the lines of `file` (UTF-8, `\n` or `\r\n`), skipping blank lines (unless `keepBlank`) and, when
 * `comments` is set, lines whose first non-blank character is `#`. A leading byte-order mark is dropped.
 * Line numbers count every line of the file, skipped or not.
 *
 * @throws {InputFormatError} naming file and line for invalid UTF-8; if `nonEmpty` is set and the file
 *   has no line left to parse; if `file` is a directory.
 */
export async function* readLines(file: string, options: ReadLinesOptions = {}): AsyncGenerator<NumberedLine> {
  // Opening first makes a missing file fail here with ENOENT rather than inside the stream.
  const handle = await fs.open(file, 'r');
  if ((await handle.stat()).isDirectory()) {
    await handle.close();
    throw new InputFormatError('is a directory, not a file', file);
  }
  // Bytes are split at '\n' before decoding (a UTF-8 continuation byte can never be 0x0a), so each line
  // is decoded strictly on its own and an error names its line.
  const input = handle.createReadStream();
  // One decoder per file: without `stream`, each decode() call starts afresh, so reuse is safe.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let line = 0;
  let yielded = 0;
  let pending: Buffer[] = [];
  const take = (last: Buffer): NumberedLine | undefined => {
    let bytes = pending.length === 0 ? last : Buffer.concat([...pending, last]);
    pending = [];
    line++;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    let text = decodeLine(decoder, bytes, file, line);
    if (line === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const trimmed = text.trim();
    if (trimmed === '' && !options.keepBlank) return undefined;
    if (options.comments && trimmed.startsWith('#')) return undefined;
    yielded++;
    return { text, line };
  };
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(NEWLINE, start); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
        const out = take(chunk.subarray(start, nl));
        start = nl + 1;
        if (out) yield out;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    }
    // A last line without a final newline still counts; an empty remainder after '\n' does not.
    if (pending.length > 0) {
      const out = take(Buffer.alloc(0));
      if (out) yield out;
    }
  } finally {
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
