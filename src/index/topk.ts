import { compareIds } from '../eval/metrics.js';

/**
 * Bounded top-k selection: a min-heap of size k whose root is the worst kept candidate, so scoring n
 * documents costs O(n log k) and O(k) memory instead of a full sort. Ordering matches trec_eval: higher
 * score first, and on equal scores the greater document id first (C strcmp order, as trec_eval).
 */
export class TopK {
  private readonly scores: Float64Array;
  private readonly rows: Int32Array;
  private count = 0;

  constructor(
    readonly k: number,
    private readonly ids: readonly string[],
  ) {
    this.scores = new Float64Array(k);
    this.rows = new Int32Array(k);
  }

  /** True when (sa, a) ranks below (sb, b). */
  private worse(sa: number, a: number, sb: number, b: number): boolean {
    if (sa !== sb) return sa < sb;
    return compareIds(this.ids[a], this.ids[b]) < 0;
  }

  /** The score a candidate must reach to enter (−Infinity until full). */
  get threshold(): number {
    return this.count < this.k ? -Infinity : this.scores[0];
  }

  push(score: number, row: number): void {
    const { scores, rows } = this;
    if (this.count < this.k) {
      // Sift up.
      let i = this.count++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!this.worse(score, row, scores[p], rows[p])) break;
        scores[i] = scores[p];
        rows[i] = rows[p];
        i = p;
      }
      scores[i] = score;
      rows[i] = row;
      return;
    }
    if (this.k === 0 || this.worse(score, row, scores[0], rows[0])) return;
    // Replace the root and sift down.
    const n = this.count;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.worse(scores[r], rows[r], scores[l], rows[l])) c = r;
      if (!this.worse(scores[c], rows[c], score, row)) break;
      scores[i] = scores[c];
      rows[i] = rows[c];
      i = c;
    }
    scores[i] = score;
    rows[i] = row;
  }

  /** Kept candidates, best first. */
  result(): { rows: number[]; scores: number[] } {
    const order = Array.from({ length: this.count }, (_, i) => i);
    order.sort((a, b) =>
      this.worse(this.scores[a], this.rows[a], this.scores[b], this.rows[b])
        ? 1
        : this.worse(this.scores[b], this.rows[b], this.scores[a], this.rows[a])
          ? -1
          : 0,
    );
    return { rows: order.map((i) => this.rows[i]), scores: order.map((i) => this.scores[i]) };
  }
}

/** Sort (id, score) pairs best first with trec_eval's tie-break (score desc, then id desc). */
export function compareRanked(a: { id: string; score: number }, b: { id: string; score: number }): number {
  if (a.score !== b.score) return b.score - a.score;
  return compareIds(b.id, a.id);
}
