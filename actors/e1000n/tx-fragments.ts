// IP fragments a client sends. Port filters accept only a datagram's first fragment
// (later ones carry no ports), so the first fragment, once a transmit filter has
// accepted it, opens the way for the rest of its datagram: from the same TX buffer,
// the same source MAC, and the same (source, destination, protocol, IP id). No other
// buffer may send fragments under that key while it is open - a client cannot slip
// forged fragments into another client's datagram at the receiver, nor send later
// fragments with no accepted first. The last fragment closes the key; keys expire.
// One client holds at most 64 keys, so that it cannot fill the table for the others.
// Every frame checked here is the driver's private copy of the header.

/** The header bytes a fragment's check reads (Ethernet and the fixed IPv4 header). */
export const FRAGMENT_HEADER_BYTES = 34;

const OFFSET_MASK = 0x1fff;
const MF = 0x2000;

export interface TxFragmentOptions {
  /** How long a datagram's key stays open after its first fragment. Default 5 s. */
  readonly expiryMs?: number;
  /** Keys open at once, all clients together. Default 4096. */
  readonly maxEntries?: number;
  /** Keys one client may hold open (so that one cannot fill the table for all). Default 64. */
  readonly maxPerOwner?: number;
}

export interface TxFragmentStats {
  /** First fragments accepted by a filter: keys opened. */
  opened: number;
  /** Later fragments that followed their first. */
  followed: number;
  readonly refused: {
    /** A later fragment with no open key from its buffer. */
    noFirst: number;
    /** A first fragment whose key another buffer holds open. */
    clash: number;
    /** A later fragment whose source MAC is not its first's. */
    macChanged: number;
    /** No room for another key. */
    memory: number;
    /** The client holds its most keys already. */
    ownerLimit: number;
  };
}

interface Key<B> {
  readonly src: number;
  readonly dst: number;
  readonly proto: number;
  readonly id: number;
  buffer: B;
  srcMacHi: number;
  srcMacLo: number;
  expires: number;
  next: Key<B> | undefined;
}

/** What a header says about fragmentation: not one, a first, or a later fragment. */
export const FragmentKind = { None: 0, First: 1, Later: 2 } as const;
export type FragmentKind = (typeof FragmentKind)[keyof typeof FragmentKind];

export function txFragmentKind(h: Uint8Array, len: number): FragmentKind {
  if (len < FRAGMENT_HEADER_BYTES || h[12] !== 0x08 || h[13] !== 0x00) return FragmentKind.None;
  const ff = (h[20]! << 8) | h[21]!;
  if ((ff & OFFSET_MASK) !== 0) return FragmentKind.Later;
  return (ff & MF) !== 0 ? FragmentKind.First : FragmentKind.None;
}

export class TxFragments<B> {
  readonly stats: TxFragmentStats = {
    opened: 0,
    followed: 0,
    refused: { noFirst: 0, clash: 0, macChanged: 0, memory: 0, ownerLimit: 0 },
  };
  private readonly expiryMs: number;
  private readonly maxEntries: number;
  private readonly maxPerOwner: number;
  /** Keys open by owner (a client session). */
  private readonly perOwner = new Map<unknown, number>();
  private readonly buckets = new Map<number, Key<B>>();
  private entries = 0;

  constructor(
    opts: TxFragmentOptions = {},
    /** Whose a buffer is: the keys of all of one owner's buffers count together. */
    private readonly ownerOf: (buffer: B) => unknown = (b) => b,
  ) {
    this.expiryMs = opts.expiryMs ?? 5000;
    this.maxEntries = opts.maxEntries ?? 4096;
    this.maxPerOwner = opts.maxPerOwner ?? 64;
  }

  get size(): number {
    return this.entries;
  }

  /**
   * A first fragment that a transmit filter accepted: may it go (is its key free, or
   * already this buffer's)? If so the key is open for the buffer's later fragments.
   */
  openFirst(buffer: B, h: Uint8Array, now: number): boolean {
    const src = readU32(h, 26);
    const id = (h[18]! << 8) | h[19]!;
    const dst = readU32(h, 30);
    const proto = h[23]!;
    let k = this.find(src, dst, proto, id);
    if (k !== undefined && k.expires <= now) {
      this.remove(k);
      k = undefined;
    }
    if (k !== undefined && k.buffer !== buffer) {
      this.stats.refused.clash++;
      return false;
    }
    if (k === undefined) {
      if ((this.perOwner.get(this.ownerOf(buffer)) ?? 0) >= this.maxPerOwner) this.expire(now);
      if ((this.perOwner.get(this.ownerOf(buffer)) ?? 0) >= this.maxPerOwner) {
        this.stats.refused.ownerLimit++;
        return false;
      }
      if (this.entries >= this.maxEntries) this.expire(now);
      if (this.entries >= this.maxEntries) {
        this.stats.refused.memory++;
        return false;
      }
      k = this.add(src, dst, proto, id, buffer);
    }
    k.srcMacHi = (h[6]! << 8) | h[7]!;
    k.srcMacLo = readU32(h, 8);
    k.expires = now + this.expiryMs;
    this.stats.opened++;
    return true;
  }

  /** A later fragment: it goes only after its first, from the same buffer and MAC. */
  follows(buffer: B, h: Uint8Array, now: number): boolean {
    const src = readU32(h, 26);
    const id = (h[18]! << 8) | h[19]!;
    const k = this.find(src, readU32(h, 30), h[23]!, id);
    if (k === undefined || k.buffer !== buffer || k.expires <= now) {
      this.stats.refused.noFirst++;
      return false;
    }
    if (k.srcMacHi !== ((h[6]! << 8) | h[7]!) || k.srcMacLo !== readU32(h, 8)) {
      this.stats.refused.macChanged++;
      return false;
    }
    this.stats.followed++;
    // The last fragment closes the datagram.
    if ((((h[20]! << 8) | h[21]!) & MF) === 0) this.remove(k);
    return true;
  }

  /** A buffer went away: its keys close. */
  dropBuffer(buffer: B): void {
    for (const head of [...this.buckets.values()]) {
      for (let k: Key<B> | undefined = head; k; k = k.next) if (k.buffer === buffer) this.remove(k);
    }
  }

  expire(now: number): void {
    for (const head of [...this.buckets.values()]) {
      for (let k: Key<B> | undefined = head; k; k = k.next) if (k.expires <= now) this.remove(k);
    }
  }

  private find(src: number, dst: number, proto: number, id: number): Key<B> | undefined {
    for (let k = this.buckets.get(src * 65536 + id); k; k = k.next) {
      if (k.src === src && k.dst === dst && k.proto === proto && k.id === id) return k;
    }
    return undefined;
  }

  private add(src: number, dst: number, proto: number, id: number, buffer: B): Key<B> {
    const at = src * 65536 + id;
    const k: Key<B> = {
      src,
      dst,
      proto,
      id,
      buffer,
      srcMacHi: 0,
      srcMacLo: 0,
      expires: 0,
      next: this.buckets.get(at),
    };
    this.buckets.set(at, k);
    this.entries++;
    const o = this.ownerOf(buffer);
    this.perOwner.set(o, (this.perOwner.get(o) ?? 0) + 1);
    return k;
  }

  private remove(k: Key<B>): void {
    const at = k.src * 65536 + k.id;
    let head = this.buckets.get(at);
    if (head === k) {
      if (k.next) this.buckets.set(at, k.next);
      else this.buckets.delete(at);
    } else {
      while (head && head.next !== k) head = head.next;
      if (!head) return;
      head.next = k.next;
    }
    this.entries--;
    const o = this.ownerOf(k.buffer);
    const n = (this.perOwner.get(o) ?? 1) - 1;
    if (n === 0) this.perOwner.delete(o);
    else this.perOwner.set(o, n);
  }
}

function readU32(h: Uint8Array, at: number): number {
  return ((h[at]! << 24) | (h[at + 1]! << 16) | (h[at + 2]! << 8) | h[at + 3]!) >>> 0;
}
