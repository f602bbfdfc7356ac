import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';
import { checkMatrixShape } from '../util/matrix.js';
import type { Metric, SearchOptions } from './types.js';
import { optionKeys } from '../util/options.js';

/** Input checks shared by the vector indexes, so every index fails the same way on the same mistake. */

export const METRICS: readonly Metric[] = ['ip', 'cosine', 'l2'];

export function checkMetric(metric: string): Metric {
  if (!(METRICS as readonly string[]).includes(metric)) {
    throw new ArgumentError('metric', `must be one of ${METRICS.join(', ')}, got '${metric}'`);
  }
  return metric as Metric;
}

export function checkPositiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ArgumentError(name, `must be a positive integer, got ${value}`);
  }
  return value;
}

/** Shape, dimension and finiteness of a matrix handed to `add` or `search`. */
export function checkMatrix(name: string, m: Matrix, dim: number): void {
  checkMatrixShape(name, m);
  if (m.cols !== dim) {
    throw new ArgumentError(
      name,
      `dimension mismatch: vectors have ${m.cols} dimensions, the index has ${dim}`,
    );
  }
  const d = m.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new ArgumentError(
        name,
        `row ${Math.floor(i / dim)} contains ${Number.isNaN(d[i]) ? 'NaN' : 'an infinite value'}`,
      );
    }
  }
}

/**
 * One document id: a non-empty string without whitespace. A TREC run separates its columns by whitespace,
 * so an id holding a space or tab would be written as two columns and fail every later evaluation.
 */
export function checkIdText(argument: string, id: unknown, position: number): void {
  if (typeof id !== 'string') {
    throw new ArgumentError(argument, `id at position ${position} must be a string, got ${typeof id}`);
  }
  if (id === '') throw new ArgumentError(argument, `id at position ${position} is empty`);
  if (/\s/.test(id)) {
    throw new ArgumentError(
      argument,
      `id ${JSON.stringify(id)} at position ${position} contains whitespace (TREC runs cannot carry it)`,
    );
  }
}

/** Ids for `add`: one per row, well-formed, unique within the batch and against `existing`. */
export function checkIds(ids: string[], rows: number, existing: ReadonlyMap<string, number>): void {
  if (ids.length !== rows) {
    throw new ArgumentError('ids', `got ${ids.length} ids for ${rows} vectors`);
  }
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    checkIdText('ids', id, i);
    if (existing.has(id) || seen.has(id)) throw new ArgumentError('ids', `duplicate document id '${id}'`);
    seen.add(id);
  });
}

/** `k` for a search over an index of `size` vectors. */
export function checkK(k: number, size: number): void {
  checkPositiveInt('k', k);
  if (size === 0) throw new ArgumentError('index', 'cannot search an empty index (add vectors first)');
  if (k > size) throw new ArgumentError('k', `k = ${k} exceeds the number of indexed vectors (${size})`);
}

/** Scale each row of `data` (dim columns) to unit L2 norm in place; all-zero rows stay zero. */
export function normalizeRows(data: Float32Array, dim: number): void {
  for (let o = 0; o < data.length; o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += data[o + j] * data[o + j];
    if (s === 0) continue;
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < dim; j++) data[o + j] *= inv;
  }
}

/**
 * The keys of {@link SearchOptions}: every vector index accepts all of them (an option that does not apply
 * to a kind, e.g. `rescoreMultiplier` on a float index, is ignored as documented), and refuses others.
 */
export const SEARCH_OPTION_KEYS = optionKeys<SearchOptions>({
  ef: true,
  filter: true,
  rescoreMultiplier: true,
  rescore: true,
});

/** A search filter as {@link SearchOptions.filter} types it. */
export type SearchFilter = (id: string) => boolean;

/** `options.filter` checked before any search work: absent, or a function (a `Set` is the usual slip). */
export function checkFilter(filter: unknown): SearchFilter | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter !== 'function') {
    const what =
      filter === null
        ? 'null'
        : typeof filter === 'object'
          ? `a ${(filter as object).constructor?.name ?? 'object'}`
          : typeof filter;
    throw new ArgumentError(
      'filter',
      `must be a function (id: string) => boolean, got ${what}` +
        (filter instanceof Set ? ' (pass (id) => set.has(id))' : ''),
    );
  }
  return filter as SearchFilter;
}

/**
 * One verdict of the user's filter. Anything but a boolean is refused: an async filter returns a Promise,
 * which is always truthy, so taking it as "passes" would return unfiltered results without a word.
 */
function verdict(filter: SearchFilter, id: string): boolean {
  const v: unknown = filter(id);
  if (typeof v === 'boolean') return v;
  const thenable =
    v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
  throw new ArgumentError(
    'filter',
    thenable
      ? `must return a boolean synchronously: it returned a Promise for id '${id}' (an async filter cannot run inside a search; resolve what it needs first, e.g. into a Set)`
      : `must return a boolean synchronously, got ${v === null ? 'null' : typeof v} for id '${id}'`,
  );
}

/** Whether an index's search filter is running (see {@link filterWithin}). */
export interface FilterState {
  inFilter: boolean;
}

/**
 * `filter` flagging `state.inFilter` while it runs, so that the index it searches can refuse an
 * `add` / `upsert` / `remove` from inside it ({@link checkNotInFilter}): such a change moves the rows under a
 * running scan (wrong rows allowed) and, inside hnswlib's native search, grows the graph it walks (memory
 * corruption, a crash of the process, found by a fresh-user probe).
 */
export function filterWithin(filter: SearchFilter | undefined, state: FilterState): SearchFilter | undefined {
  if (filter === undefined) return undefined;
  return (id) => {
    state.inFilter = true;
    try {
      return filter(id);
    } finally {
      state.inFilter = false;
    }
  };
}

/** @throws {ArgumentError} when `op` is called from inside a search filter of the same index. */
export function checkNotInFilter(state: FilterState, op: string): void {
  if (state.inFilter) {
    throw new ArgumentError(
      'filter',
      `must not change the index it filters: ${op}() was called from inside a search filter of the same index`,
    );
  }
}

/** The rows of `ids` that pass `filter` (1 = passes), one call per document; null without a filter. */
export function allowedRows(filter: SearchFilter | undefined, ids: readonly string[]): Uint8Array | null {
  if (filter === undefined) return null;
  const allowed = new Uint8Array(ids.length);
  for (let r = 0; r < ids.length; r++) allowed[r] = verdict(filter, ids[r]) ? 1 : 0;
  return allowed;
}

/**
 * The user's filter as a row predicate safe to hand to native code (hnswlib-node's `searchKnn`): an
 * exception thrown into its C++ filter functor aborts the whole process (SIGABRT, no `catch` runs), so
 * every error is caught here, the row is refused, and {@link GuardedFilter.rethrow} raises the first
 * error once the native call has returned.
 */
export interface GuardedFilter {
  passes: (row: number) => boolean;
  /** Throws the first error the filter raised since the last call, if any. */
  rethrow: () => void;
}

export function guardFilter(filter: SearchFilter, idOf: (row: number) => string): GuardedFilter {
  let error: unknown;
  let failed = false;
  return {
    passes: (row) => {
      if (failed) return false;
      try {
        return verdict(filter, idOf(row));
      } catch (e) {
        failed = true;
        error = e;
        return false;
      }
    },
    rethrow: () => {
      if (!failed) return;
      failed = false;
      const e = error;
      error = undefined;
      throw e;
    },
  };
}
