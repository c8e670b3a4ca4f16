// One interface's IPv4 stack, as a client of a shared NIC: ARP (learned from what
// the driver copies to every client; netd answers for the machine's address), IPv4
// in (header checks, reassembly) and out (routing on-link or through the gateway,
// fragmentation), ICMP errors handed to the protocol whose datagram they quote, and
// a protocol table that UDP joins (udp.ts) and TCP can join later. Frames for a
// protocol nobody registered (TCP today) are counted and dropped.
//
// Every frame in is a view valid during the call (netif.ts has already copied it
// out of shared memory). Every frame out is written straight into a transmit slot;
// a frame waiting for ARP waits in its slot. A datagram larger than the MTU is
// built once in a private buffer and cut into slots. Nothing is allocated per
// packet on the common paths (a known next hop, no fragments).
//
// Every frame dropped is counted by cause (stats().dropped); nothing a peer sends
// makes it throw. One timer at most (ARP retries and ageing, reassembly time-outs),
// unref'd: the stack never keeps a thread alive by itself.
import { Err, type ErrCode, FishnetError } from '../../protocols/errors.ts';
import {
  ARP_LENGTH,
  ArpOp,
  ArpPacket,
  BROADCAST_MAC,
  checksumValid,
  formatIpv4,
  IPV4_ANY,
  IPV4_BROADCAST,
  type Ipv4Addr,
  Ipv4Packet,
  internetChecksum,
  isContiguousMask,
  isIpv4,
  type Mac,
  readU16,
  readU32,
  writeArp,
  writeMac,
  writeU16,
  writeU32,
} from '../net/index.ts';
import { type ArpAction, ArpCache, type ArpCacheConfig, type ArpCacheStats } from './arp-cache.ts';
import { fragmentCount, writeFragment } from './ipv4-fragment.ts';
import { Ipv4Reassembler, type ReassemblyConfig, type ReassemblyStats } from './ipv4-reassembly.ts';
import type { Link } from './link.ts';

export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_ARP = 0x0806;
const ETH = 14;
const IP = 20;
/** The largest IPv4 datagram. */
export const MAX_DATAGRAM = 0xffff;
const LOOPBACK_IP = 0x7f00_0001 as Ipv4Addr;

/** Why a frame or datagram was dropped. */
export const STACK_DROPS = [
  // link
  'eth-truncated', // shorter than an Ethernet header
  'eth-not-for-us', // another unicast MAC
  'eth-multicast', // a multicast MAC (we join no group)
  'eth-vlan', // 802.1Q/802.1ad tagged
  'eth-type', // neither IPv4 nor ARP
  // ARP
  'arp-malformed', // not Ethernet/IPv4 ARP, or truncated
  // IPv4
  'ip-truncated',
  'ip-bad-version',
  'ip-bad-header-length',
  'ip-bad-total-length',
  'ip-bad-checksum',
  'ip-not-for-us', // to another address
  'ip-multicast', // to a group (we join none)
  'ip-bad-source', // from a broadcast, multicast or our own address
  'ip-link-broadcast', // sent to the broadcast MAC but to a unicast address (RFC 1122 3.3.6)
  'ip-fragment', // the reassembler dropped it (its stats say why)
  'ip-protocol', // a protocol nobody registered
  'tcp', // TCP: no TCP yet
  // ICMP
  'icmp-truncated',
  'icmp-bad-checksum',
  'icmp-broadcast', // an ICMP message to a broadcast address
  'icmp-not-error', // echo, timestamp, redirect ...: netd's business
  'icmp-bad-quote', // the quoted header does not parse
  'icmp-not-ours', // it quotes a datagram we did not send
  'icmp-no-handler', // it quotes a protocol nobody registered
  'icmp-no-socket', // it quotes a port nobody has open
  // UDP (udp.ts counts here)
  'udp-truncated',
  'udp-bad-length',
  'udp-bad-checksum',
  'udp-no-socket', // no socket on that port
  'udp-address', // the socket is bound to another local address
  'udp-not-from-peer', // the socket is connected to someone else
  // transmit
  'tx-no-slot', // every transmit slot in use (ARP request)
  'tx-ring-full', // the ring to the driver was full
  'tx-refused', // the driver's transmit filters refused the frame
  'tx-failed', // the driver could not send it (busy, too long, bad pbuf, gone)
  'arp-unreachable', // no ARP reply for its next hop
  'arp-queue-full', // too many frames waited for one next hop
  'arp-evicted', // its next hop's entry was evicted
  'arp-flushed', // the stack closed or its link went down while it waited
  'arp-bad-next-hop',
  'loopback-full', // too many datagrams to ourselves at once
] as const;
export type StackDrop = (typeof STACK_DROPS)[number];

/** Why a datagram could not be sent, as an errno name (dgram.ts makes Node errors of them). */
export type TxError =
  | 'ENOBUFS' // no transmit slot, or a queue full: try again (txReady())
  | 'EMSGSIZE' // larger than an IPv4 datagram
  | 'EACCES' // to a broadcast address without permission
  | 'ENETUNREACH' // no route: no address yet, no gateway, not a host address
  | 'EHOSTUNREACH' // ARP got no answer
  | 'ENETDOWN' // the stack is closed or its link is down
  | 'EPERM'; // the driver's transmit filters refused it

/** What an upper protocol learns of a datagram it receives. One object, reused: copy what you keep. */
export interface IpInfo {
  src: Ipv4Addr;
  dst: Ipv4Addr;
  protocol: number;
  ttl: number;
  /** To a broadcast address (or the broadcast MAC). */
  broadcast: boolean;
  /** From this stack to itself (127/8, our own address). */
  loopback: boolean;
}

/** An ICMP error about a datagram we sent. */
export interface IcmpErrorReport {
  readonly type: number;
  readonly code: number;
  /** Who sent the ICMP message (a router, or the destination). */
  readonly from: Ipv4Addr;
  /** The quoted datagram's source (us) and destination. */
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
}

/** A transport protocol (UDP, later TCP) joined to the stack. */
export interface ProtocolHandler {
  /** A datagram for us: its transport header and payload at buf[off, end). */
  input(buf: Uint8Array, off: number, end: number, ip: IpInfo): void;
  /** An ICMP error quoting one of our datagrams: the quoted transport header is at buf[off, end) (8 bytes or more). */
  icmpError(report: IcmpErrorReport, buf: Uint8Array, off: number, end: number): void;
}

/** Writes a transport header and payload for output(); called synchronously, once per datagram. */
export interface L4Writer {
  /** Write `len` bytes at buf[off..]: header with its checksum (over src and dst), then payload. */
  writeL4(buf: Uint8Array, off: number, len: number, src: Ipv4Addr, dst: Ipv4Addr): void;
}

/**
 * A datagram in flight, for a sender that wants to know how it ended. The stack
 * counts its frames in `pending` and calls complete() once, when every frame was
 * sent (error undefined) or one failed; that may be before output() returns (a
 * frame refused at once), so a caller that answers a user defers the answer.
 */
export interface TxRequest {
  pending: number;
  error: TxError | undefined;
  complete(error: TxError | undefined): void;
}

export interface StackConfig {
  readonly link: Link;
  /** Our address, gateway and netmask (from netd's get_ip_info); 0.0.0.0 while there is none. */
  readonly ip?: Ipv4Addr;
  readonly gw?: Ipv4Addr;
  readonly mask?: Ipv4Addr;
  /** Default 1500 (the most an untagged Ethernet frame carries). */
  readonly mtu?: number;
  /** The TTL of datagrams we send unless a socket sets its own. Default 64. */
  readonly ttl?: number;
  /** ARP cache tuning. Default queue: 64 frames per next hop (a datagram of 64 KiB is 45 fragments). */
  readonly arp?: Omit<ArpCacheConfig, 'mac' | 'ip' | 'answer'>;
  readonly reassembly?: ReassemblyConfig;
  /** Datagrams to ourselves waiting to be delivered. Default 256. */
  readonly loopbackQueue?: number;
  /** The clock, in ms (default performance.now). */
  readonly now?: () => number;
  /** The first IPv4 id (default random: client stacks share the machine's address). */
  readonly ipIdSeed?: number;
}

export interface StackStats {
  readonly address: { ip: string; gw: string; mask: string };
  /**
   * Frames in, and what became of them: each is dropped (dropped), taken by ARP (arp),
   * held as a fragment (held), or part of a datagram delivered (delivered).
   */
  readonly rx: {
    frames: number;
    bytes: number;
    arp: number;
    ipv4: number;
    held: number;
    reassembled: number;
  };
  readonly tx: {
    datagrams: number;
    frames: number;
    bytes: number;
    fragmented: number;
    arpRequests: number;
    loopback: number;
  };
  readonly delivered: Record<string, number>;
  readonly dropped: Record<StackDrop, number>;
  readonly arp: ArpCacheStats & { entries: number };
  readonly reassembly: ReassemblyStats & { heldDatagrams: number; heldBytes: number };
}

function multicast(a: number): boolean {
  return a >>> 28 === 0xe;
}

const IP_INVALID: Record<string, StackDrop> = {
  truncated: 'ip-truncated',
  'bad-version': 'ip-bad-version',
  'bad-header-length': 'ip-bad-header-length',
  'bad-total-length': 'ip-bad-total-length',
};

/** Write a 20-byte IPv4 header (no options, DF clear) with its checksum. */
function writeIpHeader(
  b: Uint8Array,
  off: number,
  total: number,
  id: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  b[off] = 0x45;
  b[off + 1] = 0;
  writeU16(b, off + 2, total);
  writeU16(b, off + 4, id);
  b[off + 6] = 0;
  b[off + 7] = 0;
  b[off + 8] = ttl;
  b[off + 9] = protocol;
  b[off + 10] = 0;
  b[off + 11] = 0;
  writeU32(b, off + 12, src);
  writeU32(b, off + 16, dst);
  writeU16(b, off + 10, internetChecksum(b, off, IP));
}

interface Loopback {
  readonly datagram: Uint8Array;
  readonly req: TxRequest | undefined;
}

export class Stack {
  readonly link: Link;
  readonly mtu: number;
  readonly defaultTtl: number;
  private ip_: Ipv4Addr;
  private gw_: Ipv4Addr;
  private mask_: Ipv4Addr;
  private bcast: Ipv4Addr;

  private readonly arp: ArpCache;
  private readonly reasm: Ipv4Reassembler;
  private readonly now: () => number;
  private readonly protocols: (ProtocolHandler | undefined)[] = new Array(256).fill(undefined);
  private ipId: number;

  private readonly dropped = Object.fromEntries(STACK_DROPS.map((c) => [c, 0])) as Record<StackDrop, number>;
  private readonly rx = { frames: 0, bytes: 0, arp: 0, ipv4: 0, held: 0, reassembled: 0 };
  private readonly tx = { datagrams: 0, frames: 0, bytes: 0, fragmented: 0, arpRequests: 0, loopback: 0 };
  private readonly delivered: Record<string, number> = {};

  private readonly ipView = new Ipv4Packet();
  private readonly arpView = new ArpPacket();
  private readonly info: IpInfo = {
    src: IPV4_ANY,
    dst: IPV4_ANY,
    protocol: 0,
    ttl: 0,
    broadcast: false,
    loopback: false,
  };
  /** The request each busy slot's frame belongs to. */
  private readonly slotReq: (TxRequest | undefined)[];
  /** A whole datagram before it is cut into fragments. */
  private readonly big = new Uint8Array(MAX_DATAGRAM);

  private readonly loopQueue: Loopback[] = [];
  private readonly loopLimit: number;
  private loopScheduled = false;

  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Infinity;
  private closed = false;

  constructor(cfg: StackConfig) {
    const bad = (detail: string) => new FishnetError('LWIP_ERR_ARG', `stack: ${detail}`);
    this.link = cfg.link;
    const maxMtu = Math.min(cfg.link.slotBytes - ETH, MAX_DATAGRAM);
    const mtu = cfg.mtu ?? Math.min(1500, maxMtu);
    if (!(Number.isInteger(mtu) && mtu >= 68 && mtu <= maxMtu))
      throw bad(`mtu ${String(cfg.mtu)} is not an integer in 68..${maxMtu}`);
    this.mtu = mtu;
    const ttl = cfg.ttl ?? 64;
    if (!(Number.isInteger(ttl) && ttl >= 1 && ttl <= 255)) throw bad(`ttl ${String(cfg.ttl)} is not 1..255`);
    this.defaultTtl = ttl;
    const loop = cfg.loopbackQueue ?? 256;
    if (!(Number.isInteger(loop) && loop >= 1))
      throw bad(`loopbackQueue ${String(loop)} is not a positive integer`);
    this.loopLimit = loop;
    // Whole milliseconds: a small integer stays unboxed (no allocation per packet), a fraction would not.
    this.now = cfg.now ?? (() => Math.floor(performance.now()));
    this.ip_ = IPV4_ANY;
    this.gw_ = IPV4_ANY;
    this.mask_ = IPV4_ANY;
    this.bcast = IPV4_BROADCAST;
    this.checkAddress(cfg.ip ?? IPV4_ANY, cfg.gw ?? IPV4_ANY, cfg.mask ?? IPV4_ANY);
    this.arp = new ArpCache({ queueLimit: 64, ...cfg.arp, mac: cfg.link.mac, ip: IPV4_ANY, answer: false });
    this.reasm = new Ipv4Reassembler(cfg.reassembly);
    this.setAddress(cfg.ip ?? IPV4_ANY, cfg.gw ?? IPV4_ANY, cfg.mask ?? IPV4_ANY);
    this.ipId = (cfg.ipIdSeed ?? Math.floor(Math.random() * 0x10000)) & 0xffff;
    this.slotReq = new Array(cfg.link.txSlots).fill(undefined);
    cfg.link.setHandlers({
      frame: (f, len) => this.input(f, len),
      txDone: (slot, err) => this.txDone(slot, err),
      down: () => this.linkDown(),
    });
  }

  // ---- configuration ------------------------------------------------------------------

  get ip(): Ipv4Addr {
    return this.ip_;
  }
  get gateway(): Ipv4Addr {
    return this.gw_;
  }
  get netmask(): Ipv4Addr {
    return this.mask_;
  }
  get mac(): Mac {
    return this.link.mac;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  /** The stack's one timer is set (for inspection: none after close()). */
  get timerArmed(): boolean {
    return this.timer !== undefined;
  }

  private checkAddress(ip: Ipv4Addr, gw: Ipv4Addr, mask: Ipv4Addr): void {
    const bad = (what: string, v: unknown) =>
      new FishnetError('LWIP_ERR_ARG', `stack: ${what} ${String(v)} is not an IPv4 address`);
    if (!isIpv4(ip)) throw bad('ip', ip);
    if (!isIpv4(gw)) throw bad('gateway', gw);
    if (!isIpv4(mask) || !isContiguousMask(mask))
      throw new FishnetError('LWIP_ERR_ARG', `stack: netmask ${String(mask)} is not a contiguous mask`);
  }

  /** Our address changed (netd's ip_changed). Known neighbours stay known. */
  setAddress(ip: Ipv4Addr, gw: Ipv4Addr, mask: Ipv4Addr): void {
    this.checkAddress(ip, gw, mask);
    this.ip_ = ip;
    this.gw_ = gw;
    this.mask_ = mask;
    // A /31 or /32 has no broadcast address of its own (RFC 3021).
    this.bcast = mask >>> 0 >= 0xffff_fffe ? IPV4_BROADCAST : ((((ip & mask) | ~mask) >>> 0) as Ipv4Addr);
    this.arp.ip = ip;
  }

  /** Join a transport protocol (UDP: 17, TCP: 6) to the stack. */
  register(protocol: number, handler: ProtocolHandler): void {
    if (!(Number.isInteger(protocol) && protocol >= 0 && protocol <= 255) || protocol === IP_PROTO_ICMP)
      throw new FishnetError('LWIP_ERR_ARG', `stack: protocol ${protocol} cannot be registered`);
    if (this.protocols[protocol])
      throw new FishnetError('LWIP_ERR_USE', `stack: protocol ${protocol} is taken`);
    this.protocols[protocol] = handler;
  }

  /** Count a drop (for the protocols joined to the stack). */
  drop(cause: StackDrop): undefined {
    this.dropped[cause]++;
  }

  /** An upper protocol handed a datagram (or an ICMP error) to its user. */
  countDelivered(what: string): void {
    this.delivered[what] = (this.delivered[what] ?? 0) + 1;
  }

  /** Free transmit slots: a datagram of n frames can go now if n <= txAvailable(). */
  txAvailable(): number {
    return this.closed ? 0 : this.link.txAvailable();
  }

  /** Resolves when a transmit slot is free. */
  txReady(): Promise<void> {
    if (this.closed) return Promise.reject(new FishnetError('LWIP_ERR_CLSD', 'the stack is closed'));
    return this.link.txReady();
  }

  /** Frames a datagram of this many transport bytes takes. */
  framesFor(l4len: number): number {
    const total = IP + l4len;
    if (total <= this.mtu) return 1;
    const per = ((this.mtu - IP) >> 3) << 3;
    return Math.ceil(l4len / per);
  }

  stats(): StackStats {
    return {
      address: { ip: formatIpv4(this.ip_), gw: formatIpv4(this.gw_), mask: formatIpv4(this.mask_) },
      rx: { ...this.rx },
      tx: { ...this.tx },
      delivered: { ...this.delivered },
      dropped: { ...this.dropped },
      arp: { ...structuredClone(this.arp.stats), entries: this.arp.size },
      reassembly: {
        ...structuredClone(this.reasm.stats),
        heldDatagrams: this.reasm.heldDatagrams,
        heldBytes: this.reasm.heldBytes,
      },
    };
  }

  /** What the ARP cache holds for an address (for inspection). */
  neighbour(ip: Ipv4Addr): ReturnType<ArpCache['entry']> {
    return this.arp.entry(ip);
  }

  // ---- input ------------------------------------------------------------------------

  /** A frame from the link: frame[0, len), valid during the call. */
  input(frame: Uint8Array, len: number): undefined {
    if (this.closed) return;
    this.rx.frames++;
    this.rx.bytes += len;
    if (len < ETH) return this.drop('eth-truncated');
    // Destination MAC: ours, or broadcast. As two numbers, not a 48-bit read.
    const hi = (frame[0]! << 8) | frame[1]!;
    const lo = readU32(frame, 2);
    const mac = this.link.mac;
    const linkBroadcast = hi === 0xffff && lo === 0xffff_ffff;
    if (!linkBroadcast && !(hi === Math.floor(mac / 0x1_0000_0000) && lo === mac >>> 0)) {
      return this.drop(hi & 0x100 ? 'eth-multicast' : 'eth-not-for-us');
    }
    const type = readU16(frame, 12);
    if (type === ETHERTYPE_IPV4) {
      this.rx.ipv4++;
      return this.ipInput(frame, ETH, len, linkBroadcast);
    }
    if (type === ETHERTYPE_ARP) return this.arpInput(frame, len);
    this.drop(type === 0x8100 || type === 0x88a8 ? 'eth-vlan' : 'eth-type');
  }

  private arpInput(frame: Uint8Array, len: number): undefined {
    if (this.arpView.attach(frame, ETH, len) !== undefined) return this.drop('arp-malformed');
    this.rx.arp++;
    this.act(this.arp.input(this.arpView, this.now()));
    this.schedule();
  }

  private ipInput(buf: Uint8Array, off: number, end: number, linkBroadcast: boolean): undefined {
    const v = this.ipView;
    const why = v.attach(buf, off, end);
    if (why !== undefined) return this.drop(IP_INVALID[why] ?? 'ip-truncated');
    if (!v.checksumValid()) return this.drop('ip-bad-checksum');
    const dst = v.dst;
    const src = v.src;
    const ip = this.ip_;
    let broadcast = false;
    if (dst === ip && ip !== IPV4_ANY) {
      if (linkBroadcast) return this.drop('ip-link-broadcast');
    } else if (dst === IPV4_BROADCAST || (dst === this.bcast && ip !== IPV4_ANY)) {
      broadcast = true;
    } else {
      return this.drop(multicast(dst) ? 'ip-multicast' : 'ip-not-for-us');
    }
    if (src === IPV4_BROADCAST || src === this.bcast || src >>> 28 >= 0xe || (src === ip && ip !== IPV4_ANY))
      return this.drop('ip-bad-source');
    const total = v.totalLength;
    if (v.isFragment) {
      const r = this.reasm.input(buf, off, off + total, this.now());
      if (r.kind === 'held') {
        this.rx.held++;
        this.schedule();
        return;
      }
      if (r.kind === 'dropped') return this.drop('ip-fragment');
      if (r.kind === 'complete') {
        this.rx.reassembled++;
        const d = r.datagram;
        if (v.attach(d, 0, d.length) !== undefined) return this.drop('ip-fragment'); // cannot happen: we built it
        return this.dispatch(d, 0, d.length, broadcast, false);
      }
    }
    this.dispatch(buf, off, off + total, broadcast, false);
  }

  /** ipView is attached to the datagram at buf[off, end). */
  private dispatch(
    buf: Uint8Array,
    off: number,
    end: number,
    broadcast: boolean,
    loopback: boolean,
  ): undefined {
    const v = this.ipView;
    const info = this.info;
    info.src = v.src;
    info.dst = v.dst;
    info.protocol = v.protocol;
    info.ttl = v.ttl;
    info.broadcast = broadcast;
    info.loopback = loopback;
    const start = off + v.headerLength;
    const protocol = info.protocol;
    if (protocol === IP_PROTO_ICMP) return this.icmpInput(buf, start, end, info);
    const h = this.protocols[protocol];
    if (h === undefined) return this.drop(protocol === IP_PROTO_TCP ? 'tcp' : 'ip-protocol');
    h.input(buf, start, end, info);
  }

  private icmpInput(buf: Uint8Array, off: number, end: number, info: IpInfo): undefined {
    if (end - off < 8) return this.drop('icmp-truncated');
    if (!checksumValid(buf, off, end - off)) return this.drop('icmp-bad-checksum');
    if (info.broadcast) return this.drop('icmp-broadcast');
    const type = buf[off]!;
    const code = buf[off + 1]!;
    // Destination unreachable, time exceeded, parameter problem: errors about our datagrams.
    if (type !== 3 && type !== 11 && type !== 12) return this.drop('icmp-not-error');
    const q = off + 8;
    if (end - q < IP + 8) return this.drop('icmp-bad-quote');
    const vihl = buf[q]!;
    const qhl = (vihl & 0x0f) * 4;
    if (vihl >>> 4 !== 4 || qhl < IP || end - q < qhl + 8) return this.drop('icmp-bad-quote');
    const qsrc = readU32(buf, q + 12) as Ipv4Addr;
    if (qsrc !== this.ip_ && !info.loopback) return this.drop('icmp-not-ours');
    const h = this.protocols[buf[q + 9]!];
    if (h === undefined) return this.drop('icmp-no-handler');
    h.icmpError(
      { type, code, from: info.src, src: qsrc, dst: readU32(buf, q + 16) as Ipv4Addr },
      buf,
      q + qhl,
      end,
    );
  }

  // ---- output -----------------------------------------------------------------------

  /**
   * Send a datagram of `l4len` transport bytes (written by `writer`) to `dst`.
   * Returns why it cannot be sent (nothing was sent), or undefined: it is on its way,
   * and `req`, if given, hears how it ended.
   */
  output(
    protocol: number,
    dst: Ipv4Addr,
    l4len: number,
    ttl: number,
    broadcastOk: boolean,
    writer: L4Writer,
    req: TxRequest | undefined,
  ): TxError | undefined {
    if (this.closed || !this.link.isUp) return 'ENETDOWN';
    const total = IP + l4len;
    if (total > MAX_DATAGRAM) return 'EMSGSIZE';
    const top = dst >>> 24;
    if (top === 127 || dst === IPV4_ANY || (dst === this.ip_ && dst !== IPV4_ANY))
      return this.loopback(protocol, dst, l4len, ttl, writer, req);
    const ip = this.ip_;
    if (ip === IPV4_ANY) return 'ENETUNREACH';
    let dstMac = -1;
    let nextHop = IPV4_ANY;
    if (dst === IPV4_BROADCAST || dst === this.bcast) {
      if (!broadcastOk) return 'EACCES';
      dstMac = BROADCAST_MAC;
    } else if (multicast(dst)) {
      // 01:00:5e and the group's low 23 bits (RFC 1112 6.4); we send, we join nothing.
      dstMac = 0x01005e00_0000 + (dst & 0x7fffff);
    } else if (top === 0 || top >= 0xf0) {
      return 'ENETUNREACH';
    } else {
      nextHop = ((dst ^ ip) & this.mask_) === 0 ? dst : this.gw_;
      if (nextHop === IPV4_ANY) return 'ENETUNREACH';
    }
    const link = this.link;
    const S = link.slotBytes;
    const bytes = link.txBytes;
    const id = this.ipId;
    if (total <= this.mtu) {
      const slot = link.txAlloc();
      if (slot < 0) return 'ENOBUFS';
      const base = slot * S;
      this.ethHeader(bytes, base, ETHERTYPE_IPV4);
      writeIpHeader(bytes, base + ETH, total, id, ttl, protocol, ip, dst);
      writer.writeL4(bytes, base + ETH + IP, l4len, ip, dst);
      this.ipId = (id + 1) & 0xffff;
      this.tx.datagrams++;
      // One count held while the frame is handed on (it may fail at once), one for the frame.
      if (req) req.pending += 2;
      this.emit(slot, ETH + total, nextHop, dstMac, req);
      if (req) this.settle(req, undefined);
      return undefined;
    }
    // Too big for one frame: the whole datagram privately, then a slot per fragment.
    const big = this.big;
    writeIpHeader(big, 0, total, id, ttl, protocol, ip, dst);
    writer.writeL4(big, IP, l4len, ip, dst);
    const n = fragmentCount(big, this.mtu, 0, total);
    if (typeof n === 'string') return 'EMSGSIZE'; // cannot happen: we wrote a valid header
    if (link.txAvailable() < n) return 'ENOBUFS';
    this.ipId = (id + 1) & 0xffff;
    this.tx.datagrams++;
    this.tx.fragmented++;
    if (req) req.pending++; // held until every fragment is on its way
    for (let i = 0; i < n; i++) {
      const slot = link.txAlloc();
      const base = slot * S;
      this.ethHeader(bytes, base, ETHERTYPE_IPV4);
      const len = writeFragment(big, this.mtu, i, bytes, base + ETH, 0, total);
      if (req) req.pending++;
      this.emit(slot, ETH + len, nextHop, dstMac, req);
    }
    if (req) this.settle(req, undefined);
    return undefined;
  }

  /** Ethernet header with our source MAC; the destination is written when known. */
  private ethHeader(b: Uint8Array, base: number, type: number): void {
    writeMac(b, base + 6, this.link.mac);
    writeU16(b, base + 12, type);
  }

  /** A frame in `slot`: to `dstMac`, or (-1) to whatever ARP says `nextHop` is. */
  private emit(
    slot: number,
    len: number,
    nextHop: Ipv4Addr,
    dstMac: number,
    req: TxRequest | undefined,
  ): undefined {
    this.slotReq[slot] = req;
    const bytes = this.link.txBytes;
    const base = slot * this.link.slotBytes;
    if (dstMac >= 0) {
      writeMac(bytes, base, dstMac as Mac);
      return this.send(slot, len);
    }
    const now = this.now();
    const known = this.arp.lookup(nextHop, now);
    if (known !== undefined) {
      writeMac(bytes, base, known);
      this.send(slot, len);
      if (this.arp.refreshWanted) this.poll();
      return;
    }
    // The frame waits for ARP in its own slot.
    this.act(this.arp.queue(nextHop, bytes.subarray(base, base + len), now));
    this.schedule();
  }

  private send(slot: number, len: number): undefined {
    if (this.link.transmit(slot, len)) {
      this.tx.frames++;
      this.tx.bytes += len;
      return;
    }
    this.link.txRelease(slot);
    this.frameFailed(slot, 'tx-ring-full', this.link.isUp ? 'ENOBUFS' : 'ENETDOWN');
  }

  private txDone(slot: number, err: ErrCode): void {
    if (err === Err.OK) {
      const req = this.slotReq[slot];
      if (req !== undefined) {
        this.slotReq[slot] = undefined;
        this.settle(req, undefined);
      }
      return;
    }
    if (err === Err.ETHSRV_ERR_TX_REFUSED) this.frameFailed(slot, 'tx-refused', 'EPERM');
    else if (err === Err.ETHSRV_ERR_CANT_TRANSMIT) this.frameFailed(slot, 'tx-failed', 'ENOBUFS');
    else this.frameFailed(slot, 'tx-failed', 'ENETDOWN');
  }

  private frameFailed(slot: number, cause: StackDrop, error: TxError): void {
    this.dropped[cause]++;
    const req = this.slotReq[slot];
    if (req === undefined) return;
    this.slotReq[slot] = undefined;
    this.settle(req, error);
  }

  private settle(req: TxRequest, error: TxError | undefined): void {
    if (error !== undefined && req.error === undefined) req.error = error;
    if (--req.pending === 0) req.complete(req.error);
  }

  private loopback(
    protocol: number,
    dst: Ipv4Addr,
    l4len: number,
    ttl: number,
    writer: L4Writer,
    req: TxRequest | undefined,
  ): TxError | undefined {
    if (this.loopQueue.length >= this.loopLimit) {
      this.dropped['loopback-full']++;
      return 'ENOBUFS';
    }
    // To 0.0.0.0 means to this host (as Linux takes it); from 127.0.0.1 unless to our own address.
    const to = dst === IPV4_ANY ? LOOPBACK_IP : dst;
    const from = to === this.ip_ ? this.ip_ : LOOPBACK_IP;
    const d = new Uint8Array(IP + l4len);
    writeIpHeader(d, 0, IP + l4len, this.ipId, ttl, protocol, from, to);
    this.ipId = (this.ipId + 1) & 0xffff;
    writer.writeL4(d, IP, l4len, from, to);
    this.tx.datagrams++;
    this.tx.loopback++;
    if (req) req.pending++;
    this.loopQueue.push({ datagram: d, req });
    if (!this.loopScheduled) {
      this.loopScheduled = true;
      setImmediate(() => this.runLoopback());
    }
    return undefined;
  }

  private runLoopback(): void {
    this.loopScheduled = false;
    // Only what is queued now: a handler that sends to itself again is served on the next turn.
    let n = this.loopQueue.length;
    while (n-- > 0 && !this.closed) {
      const { datagram, req } = this.loopQueue.shift()!;
      if (req) this.settle(req, undefined);
      const v = this.ipView;
      if (v.attach(datagram, 0, datagram.length) !== undefined) continue;
      this.dispatch(datagram, 0, datagram.length, false, true);
    }
  }

  private sendArpRequest(target: Ipv4Addr, dstMac: Mac): void {
    const slot = this.link.txAlloc();
    if (slot < 0) {
      this.dropped['tx-no-slot']++;
      return;
    }
    const b = this.link.txBytes;
    const base = slot * this.link.slotBytes;
    writeMac(b, base, dstMac);
    this.ethHeader(b, base, ETHERTYPE_ARP);
    writeArp(b, base + ETH, {
      op: ArpOp.REQUEST,
      senderMac: this.link.mac,
      senderIp: this.ip_,
      targetMac: 0 as Mac,
      targetIp: target,
    });
    b.fill(0, base + ETH + ARP_LENGTH, base + 60); // padded to the Ethernet minimum
    this.slotReq[slot] = undefined;
    this.tx.arpRequests++;
    this.send(slot, 60);
  }

  /** Carry out what the ARP cache decided. */
  private act(actions: ArpAction[]): void {
    const S = this.link.slotBytes;
    for (const a of actions) {
      switch (a.kind) {
        case 'request':
          this.sendArpRequest(a.target, a.dstMac);
          break;
        case 'transmit':
          for (const f of a.frames) this.send((f.byteOffset / S) | 0, f.length);
          break;
        case 'drop': {
          const cause = `arp-${a.cause}` as StackDrop;
          const error: TxError =
            a.cause === 'unreachable'
              ? 'EHOSTUNREACH'
              : a.cause === 'flushed'
                ? 'ENETDOWN'
                : a.cause === 'bad-next-hop'
                  ? 'ENETUNREACH'
                  : 'ENOBUFS';
          for (const f of a.frames) {
            const slot = (f.byteOffset / S) | 0;
            this.link.txRelease(slot);
            this.frameFailed(slot, cause, error);
          }
          break;
        }
        case 'reply': // never: the cache is told not to answer (netd does)
        case 'conflict': // counted by the cache (ignored.conflict)
          break;
      }
    }
  }

  // ---- time -------------------------------------------------------------------------

  /** Run what is due now: ARP retries and ageing, reassembly time-outs. */
  poll(): void {
    if (this.closed) return;
    const now = this.now();
    this.act(this.arp.poll(now));
    this.reasm.expire(now);
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    const at = Math.min(this.arp.nextDeadline(), this.reasm.nextDeadline());
    if (at === Infinity) {
      this.cancelTimer();
      return;
    }
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.cancelTimer();
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Infinity;
        this.poll();
      },
      Math.max(0, Math.ceil(at - this.now())),
    );
    this.timer.unref?.();
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  // ---- the end ----------------------------------------------------------------------

  private linkDown(): void {
    this.act(this.arp.flush());
  }

  /** Stop: the timer goes, frames waiting for ARP are dropped ('arp-flushed'), nothing more comes in. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelTimer();
    this.act(this.arp.flush());
    for (const { req } of this.loopQueue.splice(0)) if (req) this.settle(req, 'ENETDOWN');
  }
}
