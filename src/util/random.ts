/**
 * A small seeded PRNG (mulberry32) whose whole state is one uint32, so a training run can checkpoint its
 * sampler and resume it bit-for-bit. Hand-written rather than a dependency: it is ten lines, and we need
 * to read and restore the raw state, which general-purpose PRNG packages rarely expose.
 */

/**
 * Seeded pseudo-random generator (mulberry32). Not cryptographic.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const order = rng.shuffle([0, 1, 2, 3]);
 * const saved = rng.state;
 * const again = Rng.fromState(saved); // continues the same sequence
 * ```
 */
export class Rng {
  private s: number;

  constructor(seed: number) {
    // Mix the seed once so nearby seeds (0, 1, 2) do not start on nearby states.
    this.s = hashInt(Math.trunc(seed) >>> 0);
  }

  /** Rebuild a generator from {@link Rng.state}. */
  static fromState(state: number): Rng {
    const rng = new Rng(0);
    rng.s = state >>> 0;
    return rng;
  }

  /** The full internal state (a uint32); {@link Rng.fromState} continues from it. */
  get state(): number {
    return this.s;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle of a copy of `items`. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = out[i];
      out[i] = out[j];
      out[j] = tmp;
    }
    return out;
  }
}

/**
 * A 32-bit integer hash (murmur3 finaliser), used to derive independent seeds from (seed, counter).
 *
 * @example
 * ```ts
 * hashInt(1) !== hashInt(2); // well mixed, deterministic
 * ```
 */
export function hashInt(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Derive a uint32 seed from a base seed and any number of integer components (e.g. step, tower).
 *
 * @example
 * ```ts
 * const dropoutSeed = deriveSeed(42, step); // same (seed, step) => same dropout masks
 * ```
 */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = hashInt(seed >>> 0);
  for (const p of parts) h = hashInt((h ^ Math.imul((p >>> 0) + 0x9e3779b9, 0x85ebca6b)) >>> 0);
  return h;
}
