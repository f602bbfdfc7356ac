/**
 * Errors raised by dense-retrieval. Every error a user can cause by bad input is one of these, with a
 * message that names the file, line or argument at fault, so the CLI can print it on one line.
 */

/** Base class of every error this library throws on purpose. */
export class DenseRetrievalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Malformed or inconsistent input data; `file` and `line` (1-based) say where, when known. */
export class InputFormatError extends DenseRetrievalError {
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(message: string, file?: string, line?: number) {
    const where = file === undefined ? '' : line === undefined ? `${file}: ` : `${file}:${line}: `;
    super(`${where}${message}`);
    this.file = file;
    this.line = line;
  }
}

/** A function argument or option outside its domain; the message names the argument. */
export class ArgumentError extends DenseRetrievalError {
  readonly argument: string;

  constructor(argument: string, message: string) {
    super(`${argument}: ${message}`);
    this.argument = argument;
  }
}

/** A backend, kernel or optional dependency that cannot be loaded here. */
export class BackendError extends DenseRetrievalError {}

/**
 * A model produced a NaN or infinite value where a finite number is required (an embedding); `row` is the
 * 0-based index of the input it came from. Usually the checkpoint's weights hold NaN/Infinity.
 */
export class NonFiniteError extends DenseRetrievalError {
  readonly row: number;

  constructor(message: string, row: number) {
    super(message);
    this.row = row;
  }
}

/**
 * A file or directory could not be written. `path` is the target the caller asked for (never the hidden
 * temp sibling an atomic write stages it in) and `reason` says why in words ("permission denied", "is a
 * directory", "out is a file, not a directory", ...); `code` is the file system's error code (`EACCES`,
 * `EISDIR`, ...) when one caused it, and `cause` the original error.
 *
 * @example
 * ```ts
 * try {
 *   await writeNpy('readonly-dir/corpus.npy', emb);
 * } catch (error) {
 *   if (error instanceof WriteError) console.error(error.message); // 'readonly-dir/corpus.npy: permission denied (...)'
 * }
 * ```
 */
export class WriteError extends DenseRetrievalError {
  readonly path: string;
  readonly reason: string;
  readonly code: string | undefined;

  constructor(path: string, reason: string, options: { code?: string; cause?: unknown } = {}) {
    super(`${path}: ${reason}`);
    this.path = path;
    this.reason = reason;
    this.code = options.code;
    if (options.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}
