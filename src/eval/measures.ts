import { ArgumentError } from '../errors.js';
import { parseInteger } from '../util/number.js';

/**
 * trec_eval measure names: parsing the `-m` style names users type (`ndcg_cut.10`, `P.5,10`, `map`) into
 * the individual measures we compute, and printing values the way trec_eval prints them.
 */

/** Measure families we compute, named as in trec_eval. */
export type MeasureFamily = 'ndcg_cut' | 'ndcg' | 'map' | 'map_cut' | 'recip_rank' | 'P' | 'recall';

/** One measure to compute: its family, its cutoff (`Infinity` for uncut measures) and its output name. */
export interface MeasureSpec {
  family: MeasureFamily;
  k: number;
  /** trec_eval's output name, e.g. `ndcg_cut_10`, `P_5`, `map`. */
  key: string;
}

const PLAIN_FAMILIES = ['ndcg', 'map', 'recip_rank'] as const;
type CutFamily = 'ndcg_cut' | 'map_cut' | 'P' | 'recall';

/** trec_eval's default cutoffs for P, recall, ndcg_cut and map_cut when none are given. */
export const DEFAULT_CUTOFFS: readonly number[] = [5, 10, 15, 20, 30, 100, 200, 500, 1000];

/** The measure names we accept, for help texts and error messages. */
export const SUPPORTED_MEASURES =
  'ndcg_cut.K, ndcg, map, map_cut.K, recip_rank, P.K, recall.K (K: one or more comma-separated cutoffs; ' +
  `without K trec_eval's defaults ${DEFAULT_CUTOFFS.join(',')})`;

function unsupported(name: string): ArgumentError {
  return new ArgumentError('measures', `unsupported measure '${name}'; supported: ${SUPPORTED_MEASURES}`);
}

function cutoff(text: string, name: string): number {
  const n = /^\d+$/.test(text) ? parseInteger(text) : undefined;
  if (n === undefined || n < 1) {
    throw new ArgumentError('measures', `cutoff '${text}' of measure '${name}' must be a positive integer`);
  }
  return n;
}

/**
 * Parse measure names as trec_eval's `-m` takes them. Each string may hold a comma list in which a bare
 * number continues the cutoff list of the measure before it, so `'ndcg_cut.5,10,map,P.10'` means
 * ndcg_cut_5, ndcg_cut_10, map and P_10. The output form (`ndcg_cut_10`) is accepted too. Duplicates are
 * dropped; order is first appearance.
 *
 * @throws {ArgumentError} naming an unsupported measure (and listing the supported ones) or a bad cutoff.
 * @example
 * ```ts
 * parseMeasures(['ndcg_cut.5,10', 'map']).map((m) => m.key); // ['ndcg_cut_5', 'ndcg_cut_10', 'map']
 * ```
 */
export function parseMeasures(names: readonly string[]): MeasureSpec[] {
  const specs: MeasureSpec[] = [];
  const seen = new Set<string>();
  const add = (family: MeasureFamily, k: number): void => {
    const key = k === Infinity ? family : `${family}_${k}`;
    if (seen.has(key)) return;
    seen.add(key);
    specs.push({ family, k, key });
  };
  let lastCut: { family: CutFamily; name: string } | undefined;
  for (const name of names) {
    for (const raw of name.split(',')) {
      const token = raw.trim();
      if (token === '') continue;
      if (/^\d+$/.test(token)) {
        if (lastCut === undefined) throw unsupported(token);
        add(lastCut.family, cutoff(token, lastCut.name));
        continue;
      }
      lastCut = undefined;
      if ((PLAIN_FAMILIES as readonly string[]).includes(token)) {
        add(token as MeasureFamily, Infinity);
        continue;
      }
      const match = /^(ndcg_cut|map_cut|P|recall)(?:([._])(.*))?$/.exec(token);
      if (match === null) throw unsupported(token);
      const family = match[1] as CutFamily;
      if (match[2] === undefined) {
        for (const k of DEFAULT_CUTOFFS) add(family, k);
      } else {
        add(family, cutoff(match[3], token));
        lastCut = { family, name: token };
      }
    }
  }
  if (specs.length === 0) throw new ArgumentError('measures', 'no measure given');
  return specs;
}

/**
 * Format a value as trec_eval's `%6.4f` does (C `printf`): exact halfway cases such as 0.03125 round to
 * even ("0.0312"), where JavaScript's `toFixed` would round up.
 *
 * @example
 * ```ts
 * formatTrecValue(0.03125); // '0.0312'
 * ```
 */
export function formatTrecValue(value: number): string {
  // A double is exactly halfway between two 4-decimal numbers only if value * 32 is an odd integer
  // (x * 10^5 integral and odd-fifth-digit forces x = m / 2^5); scaling by 32 is exact in binary.
  const scaled = value * 32;
  if (Number.isInteger(scaled) && Math.abs(scaled % 2) === 1) {
    const lower = Math.floor(value * 10000); // exact: the product has one binary fractional digit
    const even = lower % 2 === 0 ? lower : lower + 1;
    return (even / 10000).toFixed(4);
  }
  return value.toFixed(4);
}

/**
 * One line of trec_eval output: measure name padded to 22 characters, query id (`all` for the mean) and
 * value, tab separated.
 *
 * @example
 * ```ts
 * formatTrecLine('ndcg_cut_10', 'all', 0.5); // 'ndcg_cut_10           \tall\t0.5000'
 * ```
 */
export function formatTrecLine(key: string, qid: string, value: number): string {
  return `${key.padEnd(22)}\t${qid}\t${formatTrecValue(value)}`;
}
