// IP fragments in the driver. Only a datagram's first fragment carries the ports the
// filters look at, so the first fragment decides where the whole datagram goes: its
// port filter (or the default buffer) becomes a fragment filter keyed on (source,
// destination, protocol, IP id) - never the id alone, which two flows can share -
// and later fragments follow it. Fragments that come before their first are held,
// copied, within a memory bound, and go out when it comes. Entries expire.
//
// Hostile fragments are dropped whole, with their datagram (RFC 5722): a fragment
// that overlaps another (an exact duplicate excepted, which the client's reassembly
// discards), a datagram that would end past 65,535 bytes, and for TCP the tiny
// fragments of RFC 1858 (a first fragment too short for the TCP header's flags, or
// a fragment at offset 8 bytes). After such a drop the datagram's later fragments
// are dropped too, until the entry expires. Every drop is counted by cause.

/** Where a datagram's fragments go; undefined when the frame is to be dropped. */
import { checkOptions, numberOption } from '../../lib/phy/options.ts';

export type Deliver<T> = (target: T, frame: Uint8Array, len: number) => void;

export interface FragmentOptions {
  /** How long an entry (its filter and held fragments) lives, from its first fragment seen. Default 30 s. */
  readonly expiryMs?: number;
  /** Bytes of held fragments, all datagrams together. Default 1 MiB. */
  readonly maxHeldBytes?: number;
  /** Datagrams tracked at once. Default 4096. */
  readonly maxEntries?: number;
}

/** The fragment table's options, checked (each named in the error), with their defaults. */
export function fragmentOptions(opts: FragmentOptions | undefined): Required<FragmentOptions> {
  const w = 'e1000n fragments';
  const o = checkOptions(w, opts, ['expiryMs', 'maxHeldBytes', 'maxEntries']);
  return {
    expiryMs: numberOption(w, 'expiryMs', o.expiryMs, { min: 1, max: 2 ** 31 - 1 }, 30_000),
    maxHeldBytes: numberOption(
      w,
      'maxHeldBytes',
      o.maxHeldBytes,
      { min: 0, max: 1 << 30, integer: true },
      1 << 20,
    ),
    maxEntries: numberOption(w, 'maxEntries', o.maxEntries, { min: 1, max: 1 << 20, integer: true }, 4096),
  };
}

export interface FragmentStats {
  /** Fragments that went to their datagram's target. */
  delivered: number;
  /** Fragments held because their first had not come yet (and delivered later). */
  held: number;
  /** Fragment filters made (first fragments seen). */
  filters: number;
  readonly dropped: {
    overlap: number;
    /** It would end past 65,535 bytes. */
    oversize: number;
    /** Empty, or not the last and not a multiple of 8 bytes long (RFC 791). */
    badLength: number;
    /** A second first fragment the filters send to another target than the first one's. */
    firstConflict: number;
    tinyFragment: number;
    /** Dropped because the memory or entry bound was reached. */
    memory: number;
    /** Held fragments of a datagram whose first never came. */
    expired: number;
    /** Later fragments of a datagram dropped before (overlap, oversize, tiny). */
    poisoned: number;
    /** The target (a client's buffer) went away. */
    noTarget: number;
    /** A fragment whose IP header does not hold together. */
    malformed: number;
  };
}

interface Held {
  readonly bytes: Uint8Array;
}

interface Entry<T> {
  readonly src: number;
  readonly dst: number;
  readonly proto: number;
  readonly id: number;
  readonly expires: number;
  target: T | undefined;
  poisoned: boolean;
  /** Byte ranges of the payload seen: [start, end) pairs, flat. */
  readonly ranges: number[];
  /** Payload bytes seen, and where the datagram ends (-1 until its last fragment). */
  covered: number;
  totalEnd: number;
  held: Held[];
  heldBytes: number;
  next: Entry<T> | undefined;
}

const OFFSET_MASK = 0x1fff;
const MF = 0x2000;
const PROTO_TCP = 6;

/** Is this IPv4 frame (untagged, at byte 14) a fragment? Read from the frame's bytes. */
export function isFragment(frame: Uint8Array, len: number): boolean {
  if (len < 34 || frame[12] !== 0x08 || frame[13] !== 0x00) return false;
  const ff = (frame[20]! << 8) | frame[21]!;
  return (ff & (MF | OFFSET_MASK)) !== 0;
}

/** Is it the first fragment of a datagram (offset 0, more to come)? */
export function isFirstFragment(frame: Uint8Array): boolean {
  const ff = (frame[20]! << 8) | frame[21]!;
  return (ff & OFFSET_MASK) === 0 && (ff & MF) !== 0;
}

function maxEnd(ranges: readonly number[]): number {
  let m = 0;
  for (let i = 1; i < ranges.length; i += 2) if (ranges[i]! > m) m = ranges[i]!;
  return m;
}

export class FragmentTable<T> {
  readonly stats: FragmentStats = {
    delivered: 0,
    held: 0,
    filters: 0,
    dropped: {
      overlap: 0,
      oversize: 0,
      badLength: 0,
      firstConflict: 0,
      tinyFragment: 0,
      memory: 0,
      expired: 0,
      poisoned: 0,
      noTarget: 0,
      malformed: 0,
    },
  };
  private readonly expiryMs: number;
  private readonly maxHeldBytes: number;
  private readonly maxEntries: number;
  /** Buckets by (source, id): a 48-bit number, no allocation to look one up. */
  private readonly buckets = new Map<number, Entry<T>>();
  private entries = 0;
  private heldBytes = 0;

  constructor(
    opts: FragmentOptions,
    private readonly alive: (target: T) => boolean,
  ) {
    const o = fragmentOptions(opts);
    this.expiryMs = o.expiryMs;
    this.maxHeldBytes = o.maxHeldBytes;
    this.maxEntries = o.maxEntries;
  }

  /** Datagrams tracked, and bytes held for them. */
  get size(): { entries: number; heldBytes: number } {
    return { entries: this.entries, heldBytes: this.heldBytes };
  }

  /**
   * A fragment arrived (isFragment was true). `classify` is asked for the target of
   * a first fragment (a port filter's buffer, or the default buffer); `deliver`
   * copies a fragment to a target.
   */
  receive(
    frame: Uint8Array,
    len: number,
    now: number,
    classify: () => T | undefined,
    deliver: Deliver<T>,
  ): void {
    // The header, read once into locals (the frame is the driver's private copy).
    const ihl = (frame[14]! & 0x0f) * 4;
    const total = (frame[16]! << 8) | frame[17]!;
    if (ihl < 20 || total < ihl || 14 + total > len) {
      this.stats.dropped.malformed++;
      return;
    }
    const id = (frame[18]! << 8) | frame[19]!;
    const ff = (frame[20]! << 8) | frame[21]!;
    const proto = frame[23]!;
    const src = ((frame[26]! << 24) | (frame[27]! << 16) | (frame[28]! << 8) | frame[29]!) >>> 0;
    const dst = ((frame[30]! << 24) | (frame[31]! << 16) | (frame[32]! << 8) | frame[33]!) >>> 0;
    const start = (ff & OFFSET_MASK) * 8;
    const payload = total - ihl;
    const end = start + payload;
    const more = (ff & MF) !== 0;

    let e = this.find(src, dst, proto, id);
    if (e && e.expires <= now) {
      this.remove(e, true);
      e = undefined;
    }
    if (!e) {
      if (this.entries >= this.maxEntries) this.expire(now);
      if (this.entries >= this.maxEntries) {
        this.stats.dropped.memory++;
        return;
      }
      e = this.add(src, dst, proto, id, now);
    }
    if (e.poisoned) {
      this.stats.dropped.poisoned++;
      return;
    }
    // A datagram past 65,535 bytes, an overlap, a tiny TCP fragment: the whole datagram goes.
    let cause: 'oversize' | 'badLength' | 'overlap' | 'tinyFragment' | undefined;
    if (ihl + end > 65_535) cause = 'oversize';
    else if ((more && payload % 8 !== 0) || payload === 0) cause = 'badLength';
    else if (proto === PROTO_TCP && ((start === 0 && payload < 16) || start === 8)) cause = 'tinyFragment';
    else if (e.totalEnd >= 0 && end > e.totalEnd) cause = 'overlap';
    else {
      const overlap = this.overlaps(e, start, end);
      if (overlap === 'duplicate') {
        // The client's reassembly discards it; it follows its datagram like any fragment.
      } else if (overlap) cause = 'overlap';
      else {
        e.ranges.push(start, end);
        e.covered += payload;
      }
      if (!more && !cause) {
        // The last fragment says where the datagram ends: nothing seen may lie past it.
        if ((e.totalEnd >= 0 && e.totalEnd !== end) || maxEnd(e.ranges) > end) cause = 'overlap';
        e.totalEnd = end;
      }
    }
    if (cause) {
      this.stats.dropped[cause]++;
      this.poison(e);
      return;
    }
    if (start === 0 && more && e.target === undefined) {
      e.target = classify();
      this.stats.filters++;
      if (e.target === undefined) {
        this.stats.dropped.noTarget++;
        this.remove(e, true);
        return;
      }
    } else if (start === 0 && more && classify() !== e.target) {
      // A second first fragment that the filters send elsewhere: one of the two is forged
      // (a peer racing a datagram's IP id to steer it to its own port). The datagram goes.
      this.stats.dropped.firstConflict++;
      this.poison(e);
      return;
    }
    if (e.target === undefined) {
      this.hold(e, frame, len);
      return;
    }
    if (!this.alive(e.target)) {
      this.stats.dropped.noTarget++;
      this.remove(e, false);
      return;
    }
    deliver(e.target, frame, len);
    this.stats.delivered++;
    if (e.held.length > 0) this.flush(e, deliver);
    // Every byte up to the last fragment's end has gone out: the datagram is done.
    if (e.totalEnd >= 0 && e.covered === e.totalEnd) this.remove(e, false);
  }

  /** Drop entries that expired by `now` (their held fragments counted as expired). */
  expire(now: number): void {
    for (const head of [...this.buckets.values()]) {
      for (let e: Entry<T> | undefined = head; e; e = e.next) if (e.expires <= now) this.remove(e, true);
    }
  }

  /** The entries of a target that went away (a client died) are dropped at once. */
  dropTarget(target: T): void {
    for (const head of [...this.buckets.values()]) {
      for (let e: Entry<T> | undefined = head; e; e = e.next) if (e.target === target) this.remove(e, false);
    }
  }

  private hold(e: Entry<T>, frame: Uint8Array, len: number): void {
    if (this.heldBytes + len > this.maxHeldBytes) {
      this.stats.dropped.memory++;
      return;
    }
    e.held.push({ bytes: frame.slice(0, len) });
    e.heldBytes += len;
    this.heldBytes += len;
    this.stats.held++;
  }

  private flush(e: Entry<T>, deliver: Deliver<T>): void {
    const held = e.held;
    e.held = [];
    this.heldBytes -= e.heldBytes;
    e.heldBytes = 0;
    for (const h of held) {
      deliver(e.target!, h.bytes, h.bytes.length);
      this.stats.delivered++;
    }
  }

  private overlaps(e: Entry<T>, start: number, end: number): boolean | 'duplicate' {
    const r = e.ranges;
    for (let i = 0; i < r.length; i += 2) {
      if (r[i] === start && r[i + 1] === end) return 'duplicate';
      if (start < r[i + 1]! && r[i]! < end) return true;
    }
    return false;
  }

  private poison(e: Entry<T>): void {
    e.poisoned = true;
    this.heldBytes -= e.heldBytes;
    e.heldBytes = 0;
    e.held = [];
    e.target = undefined;
  }

  private key(src: number, id: number): number {
    return src * 65536 + id;
  }

  private find(src: number, dst: number, proto: number, id: number): Entry<T> | undefined {
    for (let e = this.buckets.get(this.key(src, id)); e; e = e.next) {
      if (e.dst === dst && e.proto === proto && e.id === id && e.src === src) return e;
    }
    return undefined;
  }

  private add(src: number, dst: number, proto: number, id: number, now: number): Entry<T> {
    const k = this.key(src, id);
    const e: Entry<T> = {
      src,
      dst,
      proto,
      id,
      expires: now + this.expiryMs,
      target: undefined,
      poisoned: false,
      ranges: [],
      covered: 0,
      totalEnd: -1,
      held: [],
      heldBytes: 0,
      next: this.buckets.get(k),
    };
    this.buckets.set(k, e);
    this.entries++;
    return e;
  }

  private remove(e: Entry<T>, expired: boolean): void {
    const k = this.key(e.src, e.id);
    let head = this.buckets.get(k);
    if (head === e) {
      if (e.next) this.buckets.set(k, e.next);
      else this.buckets.delete(k);
    } else {
      while (head && head.next !== e) head = head.next;
      if (!head) return;
      head.next = e.next;
    }
    this.entries--;
    if (e.held.length > 0) {
      if (expired) this.stats.dropped.expired += e.held.length;
      else this.stats.dropped.noTarget += e.held.length;
    }
    this.heldBytes -= e.heldBytes;
    e.held = [];
    e.heldBytes = 0;
  }
}
