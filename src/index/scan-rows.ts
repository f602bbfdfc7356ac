import type { Metric } from './types.js';

/**
 * Exhaustive nearest rows among `rows` candidates that `passes`, as hnswlib distances (l2: squared
 * distance; ip/cosine: 1 - dot), nearest first: the fall-back of a filtered HNSW search whose beam found
 * fewer than `k`. `vectorOf` reads a stored vector (cosine: stored normalised, so the query is normalised
 * here too). Meant for the small sets a selective filter leaves.
 */
export function scanRows(
  query: Float32Array,
  metric: Metric,
  k: number,
  rows: number,
  passes: (row: number) => boolean,
  vectorOf: (row: number) => ArrayLike<number>,
): { distances: number[]; neighbors: number[] } {
  const d = query.length;
  const q = Array.from(query);
  if (metric === 'cosine') {
    const norm = Math.hypot(...q);
    if (norm > 0) for (let j = 0; j < d; j++) q[j] /= norm;
  }
  const hits: { distance: number; row: number }[] = [];
  for (let row = 0; row < rows; row++) {
    if (!passes(row)) continue;
    const v = vectorOf(row);
    let dot = 0;
    let sq = 0;
    for (let j = 0; j < d; j++) {
      dot += q[j] * v[j];
      sq += (q[j] - v[j]) ** 2;
    }
    hits.push({ distance: metric === 'l2' ? sq : 1 - dot, row });
  }
  hits.sort((a, b) => a.distance - b.distance);
  const top = hits.slice(0, k);
  return { distances: top.map((h) => h.distance), neighbors: top.map((h) => h.row) };
}
