// Reassembling IPv4 datagrams from fragments (RFC 791 3.2, RFC 815), keyed on
// (source, destination, protocol, id) as RFC 791 says: never on the id alone, which
// would splice two senders' datagrams together.
//
// Every peer is hostile, so:
//  - a datagram not complete within `timeoutMs` (default 30 s) is dropped;
//  - all held fragments together stay under `maxBytes`: past it the oldest datagrams
//    are dropped to make room (each fragment is charged its data and a fixed overhead);
//  - overlapping fragments drop the whole datagram, and its later fragments too
//    (RFC 5722's rule, taken over to IPv4); an exact duplicate is dropped alone
//    (RFC 8200 4.5 lets duplicates be told apart from overlaps);
//  - a datagram that would pass 65,535 bytes is dropped (the "ping of death");
//  - RFC 1858: a TCP fragment at offset 8 bytes, or a first TCP fragment too short
//    to hold the header's flags (16 bytes), drops the datagram (tiny-fragment attack);
//  - every drop is counted by cause.
// Pure: time comes in as `now`; nothing runs on its own (call expire() on a timer).
import { FishnetError } from '../../protocols/errors.ts';
import { IPV4_HEADER, IpProtocol, Ipv4Packet, internetChecksum, writeU16 } from '../net/index.ts';

export type ReassemblyDrop =
  /** The fragment itself (counted per fragment): */
  | 'malformed' // its IPv4 header does not parse
  | 'bad-checksum' // its header checksum is wrong
  | 'bad-fragment-length' // empty, or not the last and not a multiple of 8 bytes
  | 'duplicate' // the same bytes at the same place as a fragment already held
  | 'after-drop' // its datagram was already dropped (overlap, oversized, ...)
  /** The whole datagram (counted per datagram): */
  | 'timeout' // not complete in time
  | 'memory-limit' // evicted (or refused) to stay under maxBytes
  | 'overlap' // two fragments overlap with different data or bounds (RFC 5722)
  | 'oversized' // it would end past 65,535 bytes
  | 'inconsistent' // two different ends (last fragments disagree, or data past the end)
  | 'too-many-fragments' // more than maxFragments pieces
  | 'tiny-fragment'; // RFC 1858

export type ReassemblyResult =
  /** Not a fragment: use the packet as it is. */
  | { readonly kind: 'not-fragment' }
  /** Held, waiting for the rest. */
  | { readonly kind: 'held' }
  /** The last piece arrived: the whole datagram, header from the first fragment (MF and offset cleared). */
  | { readonly kind: 'complete'; readonly datagram: Uint8Array }
  | { readonly kind: 'dropped'; readonly cause: ReassemblyDrop };

export interface ReassemblyConfig {
  /** Drop a datagram not complete this long after its first fragment arrived. Default 30,000 ms. */
  readonly timeoutMs?: number;
  /** Bytes all held fragments may take, overheads included. Default 256 KiB. */
  readonly maxBytes?: number;
  /** Pieces one datagram may come in. Default 128 (64 KiB over RFC 791's 576-byte MTU is 119). */
  readonly maxFragments?: number;
}

export interface ReassemblyStats {
  fragments: number;
  reassembled: number;
  readonly dropped: Record<ReassemblyDrop, number>;
}

/** What a fragment costs beyond its data (its record), and what a datagram costs (its record). */
export const FRAGMENT_OVERHEAD = 64;
export const DATAGRAM_OVERHEAD = 128;
const MAX_DATAGRAM = 0xffff;
/** RFC 1858: the first fragment of TCP must reach past the flags (byte 13 of the header). */
const TCP_MIN_FIRST = 16;

interface Piece {
  readonly start: number;
  readonly end: number;
  readonly data: Uint8Array;
}

interface Flow {
  readonly src: number;
  readonly dst: number;
  readonly protocol: number;
  readonly id: number;
  readonly hash: number;
  /** Next flow in the same hash bucket. */
  chain: Flow | undefined;
  /** Age list, oldest first. */
  older: Flow | undefined;
  newer: Flow | undefined;
  readonly deadline: number;
  /** Dropped: kept until its deadline so that its later fragments are dropped too. */
  dead: boolean;
  /** Sorted by start; never overlapping. */
  pieces: Piece[];
  header: Uint8Array | undefined;
  /** The payload's length once the last fragment came; -1 before. */
  total: number;
  received: number;
  bytes: number;
}

const NOT_FRAGMENT: ReassemblyResult = Object.freeze({ kind: 'not-fragment' });
const HELD: ReassemblyResult = Object.freeze({ kind: 'held' });
const DROPPED = Object.fromEntries(
  (
    [
      'malformed',
      'bad-checksum',
      'bad-fragment-length',
      'duplicate',
      'after-drop',
      'timeout',
      'memory-limit',
      'overlap',
      'oversized',
      'inconsistent',
      'too-many-fragments',
      'tiny-fragment',
    ] as const
  ).map((c) => [c, Object.freeze({ kind: 'dropped' as const, cause: c })]),
) as Record<ReassemblyDrop, ReassemblyResult>;

function hashKey(src: number, dst: number, protocol: number, id: number): number {
  let h = Math.imul(src ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ dst, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ ((protocol << 16) | id), 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

function equalBytes(a: Uint8Array, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[bOff + i]) return false;
  return true;
}

export class Ipv4Reassembler {
  readonly stats: ReassemblyStats = {
    fragments: 0,
    reassembled: 0,
    dropped: {
      malformed: 0,
      'bad-checksum': 0,
      'bad-fragment-length': 0,
      duplicate: 0,
      'after-drop': 0,
      timeout: 0,
      'memory-limit': 0,
      overlap: 0,
      oversized: 0,
      inconsistent: 0,
      'too-many-fragments': 0,
      'tiny-fragment': 0,
    },
  };

  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly maxFragments: number;
  private readonly buckets = new Map<number, Flow>();
  private oldest: Flow | undefined;
  private newest: Flow | undefined;
  private flows = 0;
  private bytes = 0;
  private readonly ip = new Ipv4Packet();

  constructor(cfg: ReassemblyConfig = {}) {
    const pos = (name: string, v: number | undefined, dflt: number, min: number) => {
      if (v === undefined) return dflt;
      if (!(typeof v === 'number' && Number.isFinite(v) && v >= min && Number.isInteger(v)))
        throw new FishnetError(
          'LWIP_ERR_ARG',
          `IPv4 reassembly: ${name} ${String(v)} is not an integer >= ${min}`,
        );
      return v;
    };
    this.timeoutMs = pos('timeoutMs', cfg.timeoutMs, 30000, 1);
    this.maxBytes = pos('maxBytes', cfg.maxBytes, 256 * 1024, DATAGRAM_OVERHEAD + FRAGMENT_OVERHEAD + 68);
    this.maxFragments = pos('maxFragments', cfg.maxFragments, 128, 2);
  }

  /** Datagrams being reassembled (and dropped ones remembered until their deadline). */
  get heldDatagrams(): number {
    return this.flows;
  }

  /** Bytes charged against maxBytes. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** When expire() next has work (Infinity: nothing held). */
  nextDeadline(): number {
    return this.oldest ? this.oldest.deadline : Infinity;
  }

  /** Drop what has timed out by `now`. */
  expire(now: number): void {
    while (this.oldest && this.oldest.deadline <= now) {
      const f = this.oldest;
      if (!f.dead) this.stats.dropped.timeout++;
      this.remove(f);
    }
  }

  /**
   * An IPv4 packet at off..end arrived (its Ethernet header already taken off).
   * A fragment is copied and held; the bytes may be reused after the call.
   */
  input(buf: Uint8Array, off: number, end: number, now: number): ReassemblyResult {
    this.expire(now);
    const ip = this.ip;
    if (ip.attach(buf, off, end) !== undefined) return this.dropFragment('malformed');
    if (!ip.isFragment) return NOT_FRAGMENT;
    this.stats.fragments++;
    if (!ip.checksumValid()) return this.dropFragment('bad-checksum');
    const start = ip.fragmentOffset;
    const len = ip.payloadLength;
    const stop = start + len;
    const more = ip.moreFragments;
    const hl = ip.headerLength;
    const protocol = ip.protocol;
    if (len === 0 || (more && len % 8 !== 0)) return this.dropFragment('bad-fragment-length');

    let f = this.find(ip.src, ip.dst, protocol, ip.id);
    if (f?.dead) return this.dropFragment('after-drop');
    if (!f) {
      if (!this.makeRoom(DATAGRAM_OVERHEAD, undefined)) return this.dropFragment('memory-limit');
      f = this.create(ip.src, ip.dst, protocol, ip.id, now);
    }

    // Checks that condemn the whole datagram. Its size: the first fragment's header and the furthest end.
    const lastPiece = f.pieces[f.pieces.length - 1];
    const headerLen = start === 0 ? hl : (f.header?.length ?? IPV4_HEADER);
    if (headerLen + Math.max(stop, f.total, lastPiece?.end ?? 0) > MAX_DATAGRAM)
      return this.kill(f, 'oversized');
    if (protocol === IpProtocol.TCP && (start === 8 || (start === 0 && more && len < TCP_MIN_FIRST)))
      return this.kill(f, 'tiny-fragment');
    if (!more) {
      if (f.total >= 0 && f.total !== stop) return this.kill(f, 'inconsistent');
      if (lastPiece && lastPiece.end > stop) return this.kill(f, 'inconsistent');
    } else if (f.total >= 0 && stop > f.total) {
      return this.kill(f, 'inconsistent');
    }

    // Where it goes among the pieces (sorted, disjoint), and whether it overlaps one.
    const ps = f.pieces;
    let i = ps.length;
    while (i > 0 && ps[i - 1]!.start >= stop) i--;
    const prev = ps[i - 1];
    if (prev && prev.end > start) {
      if (prev.start === start && prev.end === stop && equalBytes(prev.data, buf, ip.payloadOffset))
        return this.dropFragment('duplicate');
      return this.kill(f, 'overlap');
    }
    if (ps.length + 1 > this.maxFragments) return this.kill(f, 'too-many-fragments');

    const cost = len + FRAGMENT_OVERHEAD + (start === 0 ? hl : 0);
    if (!this.makeRoom(cost, f)) return this.kill(f, 'memory-limit');
    const data = buf.slice(ip.payloadOffset, ip.payloadOffset + len);
    ps.splice(i, 0, { start, end: stop, data });
    if (start === 0) f.header = buf.slice(off, off + hl);
    if (!more) f.total = stop;
    f.received += len;
    f.bytes += cost;
    this.bytes += cost;

    if (f.total < 0 || f.header === undefined || f.received !== f.total) return HELD;
    return { kind: 'complete', datagram: this.assemble(f) };
  }

  private assemble(f: Flow): Uint8Array {
    const h = f.header!;
    const hl = h.length;
    const out = new Uint8Array(hl + f.total);
    out.set(h, 0);
    writeU16(out, 2, hl + f.total);
    out[6] = out[6]! & 0x40; // keep DF (and zero the reserved bit); clear MF and the offset
    out[7] = 0;
    writeU16(out, 10, 0);
    writeU16(out, 10, internetChecksum(out, 0, hl));
    for (const p of f.pieces) out.set(p.data, hl + p.start);
    this.stats.reassembled++;
    this.remove(f);
    return out;
  }

  /** Free room for `cost` more bytes by dropping the oldest datagrams other than `keep`. */
  private makeRoom(cost: number, keep: Flow | undefined): boolean {
    while (this.bytes + cost > this.maxBytes) {
      let victim = this.oldest;
      if (victim === keep) victim = victim?.newer;
      if (!victim) return false;
      if (!victim.dead) this.stats.dropped['memory-limit']++;
      this.remove(victim);
    }
    return true;
  }

  private dropFragment(cause: ReassemblyDrop): ReassemblyResult {
    this.stats.dropped[cause]++;
    return DROPPED[cause];
  }

  /** Drop the datagram: free its pieces, keep a tombstone until its deadline. */
  private kill(f: Flow, cause: ReassemblyDrop): ReassemblyResult {
    this.stats.dropped[cause]++;
    f.dead = true;
    f.pieces = [];
    f.header = undefined;
    this.bytes -= f.bytes - DATAGRAM_OVERHEAD;
    f.bytes = DATAGRAM_OVERHEAD;
    return DROPPED[cause];
  }

  private find(src: number, dst: number, protocol: number, id: number): Flow | undefined {
    let f = this.buckets.get(hashKey(src, dst, protocol, id));
    while (f && !(f.src === src && f.dst === dst && f.protocol === protocol && f.id === id)) f = f.chain;
    return f;
  }

  private create(src: number, dst: number, protocol: number, id: number, now: number): Flow {
    const hash = hashKey(src, dst, protocol, id);
    const f: Flow = {
      src,
      dst,
      protocol,
      id,
      hash,
      chain: this.buckets.get(hash),
      older: this.newest,
      newer: undefined,
      deadline: now + this.timeoutMs,
      dead: false,
      pieces: [],
      header: undefined,
      total: -1,
      received: 0,
      bytes: DATAGRAM_OVERHEAD,
    };
    this.buckets.set(hash, f);
    if (this.newest) this.newest.newer = f;
    else this.oldest = f;
    this.newest = f;
    this.flows++;
    this.bytes += DATAGRAM_OVERHEAD;
    return f;
  }

  private remove(f: Flow): void {
    // Out of its bucket's chain.
    const head = this.buckets.get(f.hash);
    if (head === f) {
      if (f.chain) this.buckets.set(f.hash, f.chain);
      else this.buckets.delete(f.hash);
    } else {
      let p = head;
      while (p && p.chain !== f) p = p.chain;
      if (p) p.chain = f.chain;
    }
    // Out of the age list.
    if (f.older) f.older.newer = f.newer;
    else this.oldest = f.newer;
    if (f.newer) f.newer.older = f.older;
    else this.newest = f.older;
    this.flows--;
    this.bytes -= f.bytes;
  }
}
