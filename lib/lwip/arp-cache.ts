// The ARP cache of a stack (RFC 826, with the neighbour states of RFC 4861 7.3.2
// simplified): an entry is INCOMPLETE while its address is being resolved (a bounded
// queue of frames waits for it), REACHABLE for a while after a reply confirmed it,
// then STALE (still used; the first use sends a unicast request to confirm it), then
// gone. Pure: time comes in as `now` (ms); what to send or drop comes back as actions.
//
// The host: lookup() on every outgoing frame (no allocation); on a miss, queue()
// the frame; input() every ARP packet (attached ArpPacket); poll() when the timer
// at nextDeadline() fires, and after a batch of lookups when `refreshWanted` is set.

import { FishnetError } from '../../protocols/errors.ts';
import {
  ArpOp,
  type ArpPacket,
  BROADCAST_MAC,
  IPV4_ANY,
  type Ipv4Addr,
  isHostIpv4,
  isMac,
  isMulticastMac,
  type Mac,
  writeMac,
} from '../net/index.ts';

export type ArpDropCause =
  | 'queue-full' // more frames waited for one next hop than the queue holds: the oldest went
  | 'unreachable' // no reply after every try
  | 'evicted' // the table was full and this resolution was the oldest entry
  | 'flushed' // flush() (the interface went down, its address changed)
  | 'bad-next-hop' // not an address ARP resolves (0.0.0.0, broadcast, multicast, loopback)
  | 'bad-frame'; // shorter than an Ethernet header

export type ArpIgnore =
  | 'bad-op' // neither request nor reply
  | 'bad-sender' // a multicast, broadcast or zero sender MAC
  | 'from-us' // our own MAC as sender (a looped-back frame)
  | 'conflict' // another MAC claims our address
  | 'not-for-us' // not about an entry we have, nor asking for us: not learned (RFC 826)
  | 'unsolicited'; // a reply we did not ask for: not learned, so that nobody can fill the table by sending them

export type ArpAction =
  /** Send an ARP request for `target`: broadcast to resolve, unicast (`dstMac`) to confirm a stale entry. */
  | { readonly kind: 'request'; readonly target: Ipv4Addr; readonly dstMac: Mac }
  /** Answer a request for our address: an ARP reply to `targetMac` / `targetIp`. */
  | { readonly kind: 'reply'; readonly targetMac: Mac; readonly targetIp: Ipv4Addr }
  /** Send these frames, held for `nextHop`; their destination MAC is now written. */
  | {
      readonly kind: 'transmit';
      readonly nextHop: Ipv4Addr;
      readonly mac: Mac;
      readonly frames: Uint8Array[];
    }
  /** These frames will not be sent. */
  | {
      readonly kind: 'drop';
      readonly nextHop: Ipv4Addr;
      readonly frames: Uint8Array[];
      readonly cause: ArpDropCause;
    }
  /** Someone else (`mac`) uses our address. */
  | { readonly kind: 'conflict'; readonly mac: Mac };

export interface ArpCacheConfig {
  readonly mac: Mac;
  /** Our address; IPV4_ANY until we have one (then we answer no request). */
  readonly ip?: Ipv4Addr;
  /** How long a confirmed entry is REACHABLE. Default 30,000 ms (RFC 4861's REACHABLE_TIME). */
  readonly reachableMs?: number;
  /** How long an unused STALE entry stays before it is gone. Default 60,000 ms. */
  readonly staleMs?: number;
  /** Requests sent for one resolution (or confirmation) before giving up. Default 3. */
  readonly tries?: number;
  /** Time between them. Default 1000 ms. */
  readonly retryMs?: number;
  /** Frames held per unresolved next hop; past it the oldest is dropped. Default 8. */
  readonly queueLimit?: number;
  /** Entries in the table; past it the oldest is evicted. Default 256. */
  readonly maxEntries?: number;
  /**
   * Answer ARP requests for our address (default true). A client stack on a shared
   * NIC says false: netd answers for the machine's address, once, and the clients
   * only learn from what they see.
   */
  readonly answer?: boolean;
}

export interface ArpCacheStats {
  hits: number;
  misses: number;
  requestsSent: number;
  repliesSent: number;
  /** Entries created from a packet, or resolved. */
  learned: number;
  /** A known address's MAC changed (a NIC was swapped, or someone spoofs). */
  macChanges: number;
  /** Resolutions that got no reply. */
  failures: number;
  /** STALE entries whose confirmation got no reply (gone). */
  lapsed: number;
  evictions: number;
  /** Frames dropped, by cause. */
  readonly dropped: Record<ArpDropCause, number>;
  /** ARP packets not learned from, by cause. */
  readonly ignored: Record<ArpIgnore, number>;
}

const INCOMPLETE = 0;
const REACHABLE = 1;
const STALE = 2;

interface Entry {
  readonly ip: Ipv4Addr;
  state: number;
  mac: Mac;
  /** REACHABLE: when it turns STALE. STALE: when it is gone unless confirmed. */
  until: number;
  /** INCOMPLETE, or a STALE entry being confirmed: requests sent, and when the next is due. */
  tries: number;
  nextTry: number;
  confirming: boolean;
  queue: Uint8Array[];
}

/** The queue of an entry that holds none; frozen, so that a push by mistake throws instead of sharing frames. */
const NO_FRAMES = Object.freeze([]) as unknown as Uint8Array[];

export class ArpCache {
  readonly stats: ArpCacheStats = {
    hits: 0,
    misses: 0,
    requestsSent: 0,
    repliesSent: 0,
    learned: 0,
    macChanges: 0,
    failures: 0,
    lapsed: 0,
    evictions: 0,
    dropped: { 'queue-full': 0, unreachable: 0, evicted: 0, flushed: 0, 'bad-next-hop': 0, 'bad-frame': 0 },
    ignored: { 'bad-op': 0, 'bad-sender': 0, 'from-us': 0, conflict: 0, 'not-for-us': 0, unsolicited: 0 },
  };

  readonly mac: Mac;
  private ourIp: Ipv4Addr;
  private readonly reachableMs: number;
  private readonly staleMs: number;
  private readonly tries: number;
  private readonly retryMs: number;
  private readonly queueLimit: number;
  private readonly maxEntries: number;
  private readonly answer: boolean;
  /** Insertion order is age: an entry is moved to the end whenever it is confirmed. */
  private readonly entries = new Map<number, Entry>();
  private wantRefresh = false;

  constructor(cfg: ArpCacheConfig) {
    const bad = (detail: string) => new FishnetError('LWIP_ERR_ARG', `ARP cache: ${detail}`);
    if (!isMac(cfg.mac) || isMulticastMac(cfg.mac) || cfg.mac === 0)
      throw bad(`mac ${String(cfg.mac)} is not a unicast MAC`);
    const pos = (name: string, v: number | undefined, dflt: number, int: boolean) => {
      if (v === undefined) return dflt;
      if (!(typeof v === 'number' && Number.isFinite(v) && v > 0 && (!int || Number.isInteger(v))))
        throw bad(`${name} ${String(v)} is not a positive ${int ? 'integer' : 'number'}`);
      return v;
    };
    this.mac = cfg.mac;
    this.ourIp = cfg.ip ?? IPV4_ANY;
    this.reachableMs = pos('reachableMs', cfg.reachableMs, 30000, false);
    this.staleMs = pos('staleMs', cfg.staleMs, 60000, false);
    this.tries = pos('tries', cfg.tries, 3, true);
    this.retryMs = pos('retryMs', cfg.retryMs, 1000, false);
    this.queueLimit = pos('queueLimit', cfg.queueLimit, 8, true);
    this.maxEntries = pos('maxEntries', cfg.maxEntries, 256, true);
    if (cfg.answer !== undefined && typeof cfg.answer !== 'boolean')
      throw bad(`answer ${String(cfg.answer)} is not a boolean`);
    this.answer = cfg.answer ?? true;
  }

  /** Our address (IPV4_ANY: none yet). Neighbours stay known when it changes. */
  get ip(): Ipv4Addr {
    return this.ourIp;
  }
  set ip(a: Ipv4Addr) {
    this.ourIp = a;
  }

  get size(): number {
    return this.entries.size;
  }

  /** A STALE entry was used: poll() now to send its confirmation request. */
  get refreshWanted(): boolean {
    return this.wantRefresh;
  }

  /** The MAC for `nextHop` if one is known (REACHABLE or STALE), else undefined. Allocates nothing. */
  lookup(nextHop: Ipv4Addr, now: number): Mac | undefined {
    const m = this.usable(nextHop, now);
    if (m === undefined) this.stats.misses++;
    else this.stats.hits++;
    return m;
  }

  private usable(nextHop: Ipv4Addr, now: number): Mac | undefined {
    const e = this.entries.get(nextHop);
    if (e === undefined || e.state === INCOMPLETE) return undefined;
    if (e.state === REACHABLE && now >= e.until) this.toStale(e);
    if (e.state === STALE) {
      if (now >= e.until && !e.confirming) {
        this.entries.delete(nextHop);
        return undefined;
      }
      if (!e.confirming) {
        // Used while STALE: confirm it (unicast), but keep sending to it meanwhile.
        e.confirming = true;
        e.tries = 0;
        e.nextTry = now;
        this.wantRefresh = true;
      }
    }
    return e.mac;
  }

  /**
   * Hold `frame` (an Ethernet frame; its destination MAC is written when known) until
   * `nextHop` is resolved. Starts the resolution if none is under way. The cache keeps
   * the frame: do not reuse its bytes.
   */
  queue(nextHop: Ipv4Addr, frame: Uint8Array, now: number): ArpAction[] {
    if (!isHostIpv4(nextHop)) return this.dropNow(nextHop, frame, 'bad-next-hop');
    if (frame.length < 14) return this.dropNow(nextHop, frame, 'bad-frame');
    const known = this.usable(nextHop, now);
    if (known !== undefined) {
      writeMac(frame, 0, known);
      return [{ kind: 'transmit', nextHop, mac: known, frames: [frame] }];
    }
    const out: ArpAction[] = [];
    let e = this.entries.get(nextHop);
    if (!e) {
      e = this.insert(nextHop, INCOMPLETE, 0 as Mac, now, out);
      e.tries = 1;
      e.nextTry = now + this.retryMs;
      this.stats.requestsSent++;
      out.push({ kind: 'request', target: nextHop, dstMac: BROADCAST_MAC });
    }
    e.queue.push(frame);
    if (e.queue.length > this.queueLimit) {
      const oldest = e.queue.shift()!;
      this.stats.dropped['queue-full']++;
      out.push({ kind: 'drop', nextHop, frames: [oldest], cause: 'queue-full' });
    }
    return out;
  }

  /** An ARP packet arrived (attach() accepted it). */
  input(p: ArpPacket, now: number): ArpAction[] {
    const out: ArpAction[] = [];
    const op = p.op;
    if (op !== ArpOp.REQUEST && op !== ArpOp.REPLY) return this.ignore('bad-op', out);
    const smac = p.senderMac;
    const sip = p.senderIp;
    const tip = p.targetIp;
    if (smac === 0 || isMulticastMac(smac)) return this.ignore('bad-sender', out);
    if (smac === this.mac) return this.ignore('from-us', out);
    const forUs = this.ourIp !== IPV4_ANY && tip === this.ourIp;
    if (this.ourIp !== IPV4_ANY && sip === this.ourIp) {
      // Someone else claims our address; never learn it, tell the host (RFC 5227 2.4).
      this.stats.ignored.conflict++;
      out.push({ kind: 'conflict', mac: smac });
      return out;
    }
    // RFC 5227 probes have sender 0.0.0.0: nothing to learn, but a probe for us is answered.
    const learnable = isHostIpv4(sip);
    const e = learnable ? this.entries.get(sip) : undefined;
    if (e) {
      this.confirm(e, smac, now, out);
    } else if (forUs && learnable && op === ArpOp.REQUEST) {
      // RFC 826: whoever asks for us will be talked to; learn it now.
      const n = this.insert(sip, REACHABLE, smac, now, out);
      n.until = now + this.reachableMs;
      this.stats.learned++;
    } else if (!forUs) {
      this.stats.ignored['not-for-us']++;
    } else if (op === ArpOp.REPLY) {
      this.stats.ignored.unsolicited++;
    }
    if (forUs && op === ArpOp.REQUEST && this.answer) {
      this.stats.repliesSent++;
      out.push({ kind: 'reply', targetMac: smac, targetIp: sip });
    }
    return out;
  }

  /** Act on the deadlines passed: resend requests, give up, age entries. */
  poll(now: number): ArpAction[] {
    const out: ArpAction[] = [];
    this.wantRefresh = false;
    for (const e of this.entries.values()) {
      if (e.state === INCOMPLETE) {
        if (now < e.nextTry) continue;
        if (e.tries >= this.tries) {
          this.entries.delete(e.ip);
          this.stats.failures++;
          this.dropQueue(e, 'unreachable', out);
          continue;
        }
        e.tries++;
        e.nextTry = now + this.retryMs;
        this.stats.requestsSent++;
        out.push({ kind: 'request', target: e.ip, dstMac: BROADCAST_MAC });
        continue;
      }
      if (e.state === REACHABLE && now >= e.until) this.toStale(e);
      if (e.state === STALE) {
        if (e.confirming) {
          if (now < e.nextTry) continue;
          if (e.tries >= this.tries) {
            this.entries.delete(e.ip);
            this.stats.lapsed++;
            continue;
          }
          e.tries++;
          e.nextTry = now + this.retryMs;
          this.stats.requestsSent++;
          out.push({ kind: 'request', target: e.ip, dstMac: e.mac });
        } else if (now >= e.until) {
          this.entries.delete(e.ip);
        }
      }
    }
    return out;
  }

  /** When poll() is next needed (Infinity: never, until something is queued or looked up). */
  nextDeadline(): number {
    let t = Infinity;
    for (const e of this.entries.values()) {
      const d = e.state === INCOMPLETE || e.confirming ? e.nextTry : e.until;
      if (d < t) t = d;
    }
    return t;
  }

  /** Forget every entry; frames still waiting are dropped ('flushed'). */
  flush(): ArpAction[] {
    const out: ArpAction[] = [];
    for (const e of this.entries.values()) this.dropQueue(e, 'flushed', out);
    this.entries.clear();
    this.wantRefresh = false;
    return out;
  }

  /** What the cache holds for `ip` (for inspection and tests). */
  entry(ip: Ipv4Addr): { state: 'incomplete' | 'reachable' | 'stale'; mac: Mac; queued: number } | undefined {
    const e = this.entries.get(ip);
    if (!e) return undefined;
    const state = e.state === INCOMPLETE ? 'incomplete' : e.state === REACHABLE ? 'reachable' : 'stale';
    return { state, mac: e.mac, queued: e.queue.length };
  }

  // ---

  private toStale(e: Entry): void {
    e.state = STALE;
    e.until += this.staleMs; // counted from when it stopped being REACHABLE, not from when we noticed
    e.confirming = false;
  }

  /** A packet from `e`'s address: it is REACHABLE at `mac`; frames waiting for it go now. */
  private confirm(e: Entry, mac: Mac, now: number, out: ArpAction[]): void {
    if (e.state !== INCOMPLETE && e.mac !== mac) this.stats.macChanges++;
    const wasIncomplete = e.state === INCOMPLETE;
    e.mac = mac;
    e.state = REACHABLE;
    e.until = now + this.reachableMs;
    e.confirming = false;
    e.tries = 0;
    // Move to the young end of the table.
    this.entries.delete(e.ip);
    this.entries.set(e.ip, e);
    if (wasIncomplete) {
      this.stats.learned++;
      const frames = e.queue;
      e.queue = NO_FRAMES;
      if (frames.length) {
        for (const f of frames) writeMac(f, 0, mac);
        out.push({ kind: 'transmit', nextHop: e.ip, mac, frames });
      }
    }
  }

  private insert(ip: Ipv4Addr, state: number, mac: Mac, now: number, out: ArpAction[]): Entry {
    if (this.entries.size >= this.maxEntries) {
      // Evict the oldest: the first in insertion order.
      for (const old of this.entries.values()) {
        this.entries.delete(old.ip);
        this.stats.evictions++;
        this.dropQueue(old, 'evicted', out);
        break;
      }
    }
    const e: Entry = {
      ip,
      state,
      mac,
      until: now,
      tries: 0,
      nextTry: Infinity,
      confirming: false,
      queue: [],
    };
    if (state !== INCOMPLETE) e.queue = NO_FRAMES;
    this.entries.set(ip, e);
    return e;
  }

  private dropQueue(e: Entry, cause: ArpDropCause, out: ArpAction[]): void {
    if (e.queue.length === 0) return;
    this.stats.dropped[cause] += e.queue.length;
    out.push({ kind: 'drop', nextHop: e.ip, frames: e.queue, cause });
    e.queue = NO_FRAMES;
  }

  private dropNow(nextHop: Ipv4Addr, frame: Uint8Array, cause: ArpDropCause): ArpAction[] {
    this.stats.dropped[cause]++;
    return [{ kind: 'drop', nextHop, frames: [frame], cause }];
  }

  private ignore(why: ArpIgnore, out: ArpAction[]): ArpAction[] {
    this.stats.ignored[why]++;
    return out;
  }
}
