import { ArgumentError } from '../errors.js';
import { parseInteger } from '../util/number.js';

/**
 * trec_eval measure names: parsing the `-m` style names users type (`ndcg_cut.10`, `P.5,10`, `map`) into
 * the individual measures we compute, and printing values the way trec_eval prints them.
 */

/**
 * Measure families we compute. All but the last two are named and defined as in trec_eval; `judged`
 * (fraction of the top k that is judged) and `ndcg_burges` (nDCG with gain 2^grade - 1) are not
 * trec_eval measures and print as `judged@k` / `ndcg_burges@k` so they cannot be mistaken for one.
 */
export type MeasureFamily =
  | 'ndcg_cut'
  | 'ndcg'
  | 'map'
  | 'map_cut'
  | 'recip_rank'
  | 'P'
  | 'recall'
  | 'num_q'
  | 'num_ret'
  | 'num_rel'
  | 'num_rel_ret'
  | 'gm_map'
  | 'Rprec'
  | 'bpref'
  | 'iprec_at_recall'
  | 'infAP'
  | 'success'
  | 'judged'
  | 'ndcg_burges';

/**
 * One measure to compute: its family, its cutoff (`Infinity` for uncut measures; the recall level for
 * `iprec_at_recall`) and its output name.
 */
export interface MeasureSpec {
  family: MeasureFamily;
  k: number;
  /** trec_eval's output name, e.g. `ndcg_cut_10`, `P_5`, `map`, `iprec_at_recall_0.10`. */
  key: string;
}

const PLAIN_FAMILIES = [
  'ndcg',
  'map',
  'recip_rank',
  'num_q',
  'num_ret',
  'num_rel',
  'num_rel_ret',
  'gm_map',
  'Rprec',
  'bpref',
  'infAP',
] as const;
type CutFamily = 'ndcg_cut' | 'map_cut' | 'P' | 'recall' | 'success';

/** trec_eval's default cutoffs for P, recall, ndcg_cut and map_cut when none are given. */
export const DEFAULT_CUTOFFS: readonly number[] = [5, 10, 15, 20, 30, 100, 200, 500, 1000];

/** trec_eval's default cutoffs of `success`. */
export const SUCCESS_CUTOFFS: readonly number[] = [1, 5, 10];

/** trec_eval's 11 standard recall levels of `iprec_at_recall` (the same doubles as its C array). */
export const IPREC_RECALL_LEVELS: readonly number[] = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];

/**
 * trec_eval prints measures in the order of its measure table (`measures.c`), whatever the order of the
 * `-m` options; cutoffs ascending within a family. Our two non-trec_eval measures come last.
 */
export const TREC_MEASURE_ORDER: readonly MeasureFamily[] = [
  'num_q',
  'num_ret',
  'num_rel',
  'num_rel_ret',
  'map',
  'gm_map',
  'Rprec',
  'bpref',
  'recip_rank',
  'iprec_at_recall',
  'P',
  'recall',
  'infAP',
  'ndcg',
  'ndcg_cut',
  'map_cut',
  'success',
  'judged',
  'ndcg_burges',
];

/** The measure names we accept, for help texts and error messages. */
export const SUPPORTED_MEASURES =
  'ndcg_cut.K, ndcg, map, map_cut.K, recip_rank, P.K, recall.K, success.K, Rprec, bpref, infAP, gm_map, ' +
  'iprec_at_recall, num_q, num_ret, num_rel, num_rel_ret, all_trec (all of these) ' +
  `(K: one or more comma-separated cutoffs; without K trec_eval's defaults ${DEFAULT_CUTOFFS.join(',')}, ` +
  `${SUCCESS_CUTOFFS.join(',')} for success); not trec_eval: judged@K, ndcg_burges@K, ndcg_burges`;

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

/** Output name of a measure: `ndcg_cut_10`, `map`, `iprec_at_recall_0.10` (C `%3.2f`), `judged@10`. */
function measureKey(family: MeasureFamily, k: number): string {
  if (k === Infinity) return family;
  if (family === 'iprec_at_recall') return `${family}_${k.toFixed(2)}`;
  if (family === 'judged' || family === 'ndcg_burges') return `${family}@${k}`;
  return `${family}_${k}`;
}

/** What `-m all_trec` means here: every trec_eval measure we support, with trec_eval's default cutoffs. */
const ALL_TREC = TREC_MEASURE_ORDER.flatMap((family): { family: MeasureFamily; k: number }[] => {
  if (family === 'judged' || family === 'ndcg_burges') return [];
  if (family === 'iprec_at_recall') return IPREC_RECALL_LEVELS.map((k) => ({ family, k }));
  if (family === 'success') return SUCCESS_CUTOFFS.map((k) => ({ family, k }));
  if (family === 'P' || family === 'recall' || family === 'ndcg_cut' || family === 'map_cut') {
    return DEFAULT_CUTOFFS.map((k) => ({ family, k }));
  }
  return [{ family, k: Infinity }];
});

/**
 * Put measures in the order trec_eval prints them: by its measure table, cutoffs ascending.
 *
 * @example
 * ```ts
 * inTrecOrder(parseMeasures(['ndcg_cut.10', 'P.10,5', 'map'])).map((m) => m.key); // ['map', 'P_5', 'P_10', 'ndcg_cut_10']
 * ```
 */
export function inTrecOrder(specs: readonly MeasureSpec[]): MeasureSpec[] {
  const rank = (s: MeasureSpec): number => TREC_MEASURE_ORDER.indexOf(s.family);
  return [...specs].sort((a, b) => rank(a) - rank(b) || a.k - b.k);
}

/**
 * How trec_eval turns per-query values into its `all` line: `sum` for the counts (`num_q`, `num_ret`,
 * `num_rel`, `num_rel_ret`), `geometric` for `gm_map` (whose per-query value is log(max(AP, 1e-5))),
 * `mean` for everything else.
 *
 * @example
 * ```ts
 * measureAggregation('num_rel'); // 'sum'
 * ```
 */
export function measureAggregation(family: MeasureFamily): 'mean' | 'sum' | 'geometric' {
  if (family === 'num_q' || family === 'num_ret' || family === 'num_rel' || family === 'num_rel_ret') {
    return 'sum';
  }
  return family === 'gm_map' ? 'geometric' : 'mean';
}

/** trec_eval prints no per-query line for `num_q` and `gm_map`. */
export function printsPerQuery(family: MeasureFamily): boolean {
  return family !== 'num_q' && family !== 'gm_map';
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
    const key = measureKey(family, k);
    if (seen.has(key)) return;
    seen.add(key);
    specs.push({ family, k, key });
  };
  let lastCut: { family: MeasureFamily; name: string } | undefined;
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
      if (token === 'all_trec') {
        for (const spec of ALL_TREC) add(spec.family, spec.k);
        continue;
      }
      const level = /^iprec_at_recall_(\d\.\d\d)$/.exec(token);
      if (level !== null) {
        const k = IPREC_RECALL_LEVELS.find((l) => l.toFixed(2) === level[1]);
        if (k === undefined) throw unsupported(token);
        add('iprec_at_recall', k);
        continue;
      }
      if (token === 'iprec_at_recall') {
        for (const level of IPREC_RECALL_LEVELS) add('iprec_at_recall', level);
        continue;
      }
      const outside = /^(judged|ndcg_burges)(?:@(.*))?$/.exec(token);
      if (outside !== null) {
        if (outside[2] === undefined && outside[1] === 'judged') throw unsupported(token);
        const family = outside[1] as MeasureFamily;
        add(family, outside[2] === undefined ? Infinity : cutoff(outside[2], token));
        if (outside[2] !== undefined) lastCut = { family, name: token };
        continue;
      }
      const match = /^(ndcg_cut|map_cut|P|recall|success)(?:([._])(.*))?$/.exec(token);
      if (match === null) throw unsupported(token);
      const family = match[1] as CutFamily;
      if (match[2] === undefined) {
        for (const k of family === 'success' ? SUCCESS_CUTOFFS : DEFAULT_CUTOFFS) add(family, k);
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

/**
 * A trec_eval output line for a measure: the counts (`num_q`, `num_ret`, `num_rel`, `num_rel_ret`) print
 * as integers (C `%ld`), everything else as {@link formatTrecLine}.
 *
 * @example
 * ```ts
 * formatMeasureLine({ family: 'num_rel', k: Infinity, key: 'num_rel' }, 'all', 42); // 'num_rel               \tall\t42'
 * ```
 */
export function formatMeasureLine(spec: MeasureSpec, qid: string, value: number): string {
  if (measureAggregation(spec.family) === 'sum')
    return `${spec.key.padEnd(22)}\t${qid}\t${Math.trunc(value)}`;
  return formatTrecLine(spec.key, qid, value);
}
