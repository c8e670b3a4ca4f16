// A small seeded pseudo-random generator (sfc32, seeded through splitmix32), so that
// protocol logic that needs chance (DHCP transaction ids, back-off jitter) and the
// tests that simulate a lossy network give the same run for the same seed.
// Not for secrets.

/** What protocol logic asks of a random source; inject SeededPrng, or your own. */
export interface Prng {
  /** A uniformly distributed 32-bit unsigned integer. */
  nextU32(): number;
}

export class SeededPrng implements Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`PRNG seed ${seed} is not a finite number`);
    let s = seed >>> 0;
    const next = () => {
      // splitmix32: spreads a small seed over the whole state.
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextU32() / 0x1_0000_0000;
  }
}

/** A float in [lo, hi) from any Prng. */
export function uniform(p: Prng, lo: number, hi: number): number {
  return lo + (p.nextU32() / 0x1_0000_0000) * (hi - lo);
}
