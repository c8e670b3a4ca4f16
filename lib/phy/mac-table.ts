// The switch's forwarding table: MAC address → port, with ageing and a bound.
//
// All of it lives in typed arrays allocated once, so that learning and looking up
// allocate nothing. A MAC is handled as two int32s (the high 16 bits and the low 32
// bits) read straight from the frame: as one 48-bit number it would be a heap
// double each time it crossed a call. The hash is open addressing with linear
// probing and backward-shift deletion (no tombstones). Entries are also kept on a
// list from least to most recently seen, so the oldest is found in O(1) both to
// age it out and to evict it when the table is full.

import type { Mac } from '../net/addr.ts';

const NIL = -1;

export type Learned = 'new' | 'refreshed' | 'moved';

export interface MacEntry {
  readonly mac: Mac;
  readonly port: number;
  /** Milliseconds since the frame that last refreshed it. */
  readonly ageMs: number;
}

export class MacTable {
  readonly maxEntries: number;
  // Hash slots hold entry index + 1 (0 = empty).
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly hi: Int32Array;
  private readonly lo: Int32Array;
  private readonly port: Int32Array;
  private readonly seen: Float64Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private oldest = NIL;
  private newest = NIL;
  private free = NIL;
  private count = 0;
  /** Entries removed because nothing refreshed them within the ageing time. */
  aged = 0;
  /** Entries removed to make room for a new one (the table was full). */
  evicted = 0;

  constructor(
    maxEntries: number,
    readonly ageingMs: number,
  ) {
    this.maxEntries = maxEntries;
    let size = 8;
    while (size < maxEntries * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    this.hi = new Int32Array(maxEntries);
    this.lo = new Int32Array(maxEntries);
    this.port = new Int32Array(maxEntries);
    this.seen = new Float64Array(maxEntries);
    this.prev = new Int32Array(maxEntries);
    this.next = new Int32Array(maxEntries);
    for (let i = 0; i < maxEntries; i++) this.next[i] = i + 1 < maxEntries ? i + 1 : NIL;
    this.free = 0;
  }

  get size(): number {
    return this.count;
  }

  /** The port that `hi:lo` was last seen on, or -1 (unknown, or aged out at `now`). */
  lookup(hi: number, lo: number, now: number): number {
    const e = this.find(hi, lo);
    if (e === NIL) return -1;
    if (now - this.seen[e]! >= this.ageingMs) {
      this.remove(e);
      this.aged++;
      return -1;
    }
    return this.port[e]!;
  }

  /** `hi:lo` was seen on `port` at `now`. */
  learn(hi: number, lo: number, port: number, now: number): Learned {
    const e = this.find(hi, lo);
    if (e !== NIL) {
      this.seen[e] = now;
      if (this.newest !== e) {
        this.unlink(e);
        this.append(e);
      }
      if (this.port[e] === port) return 'refreshed';
      this.port[e] = port;
      return 'moved';
    }
    this.expire(now);
    if (this.count === this.maxEntries) {
      this.remove(this.oldest);
      this.evicted++;
    }
    const n = this.free;
    this.free = this.next[n]!;
    this.hi[n] = hi;
    this.lo[n] = lo;
    this.port[n] = port;
    this.seen[n] = now;
    this.append(n);
    let s = hash(hi, lo) & this.mask;
    while (this.slots[s] !== 0) s = (s + 1) & this.mask;
    this.slots[s] = n + 1;
    this.count++;
    return 'new';
  }

  /** Remove every entry whose last sighting is the ageing time or more before `now`. */
  expire(now: number): void {
    while (this.oldest !== NIL && now - this.seen[this.oldest]! >= this.ageingMs) {
      this.remove(this.oldest);
      this.aged++;
    }
  }

  /** Forget every address learned on `port` (it was detached). Returns how many. */
  forgetPort(port: number): number {
    let n = 0;
    for (let e = this.oldest; e !== NIL; ) {
      const after = this.next[e]!;
      if (this.port[e] === port) {
        this.remove(e);
        n++;
      }
      e = after;
    }
    return n;
  }

  /** The entries, oldest first (for inspection; allocates). */
  entries(now: number): MacEntry[] {
    const out: MacEntry[] = [];
    for (let e = this.oldest; e !== NIL; e = this.next[e]!) {
      out.push({
        mac: ((this.hi[e]! & 0xffff) * 0x1_0000_0000 + (this.lo[e]! >>> 0)) as Mac,
        port: this.port[e]!,
        ageMs: now - this.seen[e]!,
      });
    }
    return out;
  }

  private find(hi: number, lo: number): number {
    let s = hash(hi, lo) & this.mask;
    for (;;) {
      const v = this.slots[s]!;
      if (v === 0) return NIL;
      const e = v - 1;
      if (this.hi[e] === hi && this.lo[e] === lo) return e;
      s = (s + 1) & this.mask;
    }
  }

  private remove(e: number): void {
    // Find e's hash slot, empty it, then shift later members of its probe run back.
    const mask = this.mask;
    const slots = this.slots;
    let s = hash(this.hi[e]!, this.lo[e]!) & mask;
    while (slots[s] !== e + 1) s = (s + 1) & mask;
    let hole = s;
    for (let j = (hole + 1) & mask; slots[j] !== 0; j = (j + 1) & mask) {
      const m = slots[j]! - 1;
      const home = hash(this.hi[m]!, this.lo[m]!) & mask;
      // m may fill the hole if its home is not in the cyclic range (hole, j].
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        slots[hole] = slots[j]!;
        hole = j;
      }
    }
    slots[hole] = 0;
    this.unlink(e);
    this.next[e] = this.free;
    this.free = e;
    this.count--;
  }

  private append(e: number): void {
    this.prev[e] = this.newest;
    this.next[e] = NIL;
    if (this.newest !== NIL) this.next[this.newest] = e;
    else this.oldest = e;
    this.newest = e;
  }

  private unlink(e: number): void {
    const p = this.prev[e]!;
    const n = this.next[e]!;
    if (p !== NIL) this.next[p] = n;
    else this.oldest = n;
    if (n !== NIL) this.prev[n] = p;
    else this.newest = p;
  }
}

function hash(hi: number, lo: number): number {
  let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
