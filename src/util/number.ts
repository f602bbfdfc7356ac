/**
 * The one number grammar used for every number read from a file or a command line: plain decimal, as C's
 * `strtod` reads it in trec_eval minus the forms that are never meant in data files. JavaScript's
 * `Number()` also accepts `0b11` (3), `0o17` (15), `0x1f`, `Infinity`, `''` (0) and surrounding
 * whitespace, where trec_eval's `atof` reads `0b11` as 0; rather than pick either silent reading, such text
 * is refused.
 */

/** `[+-]digits[.digits][e[+-]digits]`, also `.5` and `5.`; no hex/binary/octal, no Infinity/NaN. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INTEGER = /^[+-]?\d+$/;

/**
 * Parse `text` as a finite decimal number, or return `undefined` if it is not one (see the grammar
 * above; no surrounding whitespace). A value that overflows to ±Infinity is refused too.
 *
 * @example
 * ```ts
 * parseDecimal('-1.5e3'); // -1500
 * parseDecimal('0b11');   // undefined (Number() would give 3)
 * ```
 */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parse `text` as a decimal integer (`[+-]digits`) within the safe-integer range, or return `undefined`.
 * Larger integers are refused rather than rounded.
 *
 * @example
 * ```ts
 * parseInteger('007'); // 7
 * parseInteger('1.0'); // undefined
 * ```
 */
export function parseInteger(text: string): number | undefined {
  if (!INTEGER.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
