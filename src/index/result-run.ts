import { ArgumentError } from '../errors.js';
import type { Run } from '../types.js';
import type { SearchResult } from './types.js';

/**
 * A {@link SearchResult} as a {@link Run} keyed by the given query ids (row i -> `queryIds[i]`).
 *
 * @example
 * ```ts
 * import { searchResultToRun } from 'dense-retrieval';
 * const run = searchResultToRun(await index.search(queryEmb, 100), queryIds);
 * ```
 */
export function searchResultToRun(result: SearchResult, queryIds: string[]): Run {
  if (queryIds.length !== result.ids.length) {
    throw new ArgumentError(
      'queryIds',
      `got ${queryIds.length} query ids for ${result.ids.length} result rows`,
    );
  }
  const run: Run = new Map();
  result.ids.forEach((ids, i) => {
    if (run.has(queryIds[i])) throw new ArgumentError('queryIds', `duplicate query id '${queryIds[i]}'`);
    run.set(queryIds[i], new Map(ids.map((id, j) => [id, result.scores[i][j]])));
  });
  return run;
}
