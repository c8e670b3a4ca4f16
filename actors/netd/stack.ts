// What netd does with the frames no filter claims (and with its copy of every ARP
// frame): it answers ARP for the machine's address and keeps an ARP cache with
// time-outs, answers ping, answers a UDP datagram to a closed port with ICMP port
// unreachable and a TCP segment to a closed port with a RST (both rate-limited, as
// Linux does), hands DHCP to the DHCP client, and drops and counts the rest by kind.
// Malformed frames are counted by cause and never thrown on.

import { Ipv4Reassembler } from '../../lib/lwip/ipv4-reassembly.ts';
import {
  ArpOp,
  ArpPacket,
  arpFrame,
  BROADCAST_MAC,
  directedBroadcast,
  EthernetFrame,
  EtherType,
  IcmpPacket,
  IcmpType,
  IpProtocol,
  type Ipv4Addr,
  Ipv4Packet,
  icmpEchoFrame,
  icmpErrorFrame,
  isHostIpv4,
  type Mac,
  TcpFlag,
  TcpSegment,
  tcpFrame,
  UdpDatagram,
} from '../../lib/net/index.ts';

export interface StackStats {
  arpRequestsAnswered: number;
  arpLearned: number;
  echoReplies: number;
  portUnreachableSent: number;
  resetsSent: number;
  /** ICMP errors and RSTs not sent because of the rate limit. */
  rateLimited: number;
  dhcp: number;
  /** Frames dropped, by kind: not for us, protocols netd does not serve, ... */
  readonly dropped: Record<string, number>;
  /** Frames that do not hold together, by cause. */
  readonly malformed: Record<string, number>;
}

/** The interface's address as netd holds it (0 until DHCP or a static configuration gives one). */
export interface Address {
  ip: Ipv4Addr;
  mask: Ipv4Addr;
  gw: Ipv4Addr;
}

interface ArpEntry {
  mac: Mac;
  expires: number;
}

/** A token bucket: Linux's ICMP rate limit is 1000 messages/s with a burst of 50 (icmp_msgs_per_sec, _burst). */
export class RateLimit {
  private tokens: number;
  private last = 0;

  constructor(
    private readonly perSecond = 1000,
    private readonly burst = 50,
  ) {
    this.tokens = burst;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

export interface StackHooks {
  send(frame: Uint8Array): boolean;
  /** A DHCP message for the client (UDP to port 68): its UDP payload, and where it came from. */
  dhcp?(payload: Uint8Array, srcMac: Mac, srcIp: Ipv4Addr): void;
  /** An ARP frame from `ip`: the DHCP client's probe may want to know. */
  arpSeen?(ip: Ipv4Addr, mac: Mac): void;
}

const ARP_TTL_MS = 60_000;
const ARP_MAX = 1024;

export class NetdStack {
  readonly stats: StackStats = {
    arpRequestsAnswered: 0,
    arpLearned: 0,
    echoReplies: 0,
    portUnreachableSent: 0,
    resetsSent: 0,
    rateLimited: 0,
    dhcp: 0,
    dropped: {},
    malformed: {},
  };
  readonly arp = new Map<Ipv4Addr, ArpEntry>();
  private readonly eth = new EthernetFrame();
  private readonly arpView = new ArpPacket();
  private readonly ip = new Ipv4Packet();
  private readonly udp = new UdpDatagram();
  private readonly tcp = new TcpSegment();
  private readonly icmp = new IcmpPacket();
  private readonly reassembly = new Ipv4Reassembler();
  private readonly errors = new RateLimit();
  /** Echo replies are limited as errors are: a ping flood is not turned into a reply flood. */
  private readonly echoes = new RateLimit();

  constructor(
    readonly mac: Mac,
    readonly address: Address,
    private readonly hooks: StackHooks,
  ) {}

  /** One frame from netd's default buffer (a view valid during the call). */
  input(frame: Uint8Array, len: number, now: number): undefined {
    const why = this.eth.attach(frame, len);
    if (why) return this.malformed(`ethernet: ${why}`);
    const type = this.eth.ethertype;
    const off = this.eth.payloadOffset;
    if (type === EtherType.ARP) return this.arpInput(frame, off, len, now);
    if (type !== EtherType.IPV4)
      // One key for every other ethertype: a peer must not grow the table by sending 65,536 kinds.
      return this.drop(type === EtherType.IPV6 ? 'ipv6' : 'other ethertype');
    if (this.ip.attach(frame, off, len)) return this.malformed(`ipv4: ${this.ip.attach(frame, off, len)}`);
    if (!this.ip.checksumValid()) return this.malformed('ipv4: bad header checksum');
    // RFC 1122 3.2.1.3: nothing from a source that is not one host (0/8, loopback,
    // multicast and above, our subnet's broadcast, a group MAC) is answered, or taken.
    const src = this.ip.src;
    if (
      !isHostIpv4(src) ||
      src === directedBroadcast(this.address.ip, this.address.mask) ||
      (frame[6]! & 1) !== 0
    ) {
      return this.drop('not a host source');
    }
    const dst = this.ip.dst;
    // Ours: our address at our MAC. At the link broadcast it is a broadcast (no errors).
    const mine = this.address.ip !== 0 && dst === this.address.ip && this.eth.dst === this.mac;
    const broadcast = dst === 0xffffffff || dst === directedBroadcast(this.address.ip, this.address.mask);
    if (!mine && !broadcast && dst !== this.address.ip && !this.dhcpBeforeAddress())
      return this.drop('not for us');
    let datagram = frame;
    let ipOff = off;
    let end = off + this.ip.totalLength;
    if (this.ip.isFragment) {
      const r = this.reassembly.input(frame, off, end, now);
      if (r.kind === 'held') return;
      if (r.kind === 'dropped') return this.drop(`fragment: ${r.cause}`);
      if (r.kind === 'complete') {
        datagram = r.datagram;
        ipOff = 0;
        end = datagram.length;
        this.ip.attach(datagram, 0, end);
      }
    }
    const srcMac = this.eth.src;
    const proto = this.ip.protocol;
    const p = this.ip.payloadOffset;
    if (proto === IpProtocol.ICMP) return this.icmpInput(datagram, ipOff, p, end, srcMac, mine, now);
    if (proto === IpProtocol.UDP) return this.udpInput(datagram, ipOff, p, end, srcMac, mine, now);
    if (proto === IpProtocol.TCP) return this.tcpInput(datagram, p, end, srcMac, mine, now);
    this.drop(`ip protocol ${proto}`);
  }

  /** The MAC an address answers at, if it is known and fresh. */
  lookup(ip: Ipv4Addr, now: number): Mac | undefined {
    const e = this.arp.get(ip);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.arp.delete(ip);
      return undefined;
    }
    return e.mac;
  }

  /** Ask who has `ip` (sender 0.0.0.0 for a probe: RFC 5227). */
  arpRequest(ip: Ipv4Addr, probe = false): void {
    this.hooks.send(
      arpFrame({
        dstMac: BROADCAST_MAC,
        srcMac: this.mac,
        op: ArpOp.REQUEST,
        senderMac: this.mac,
        senderIp: (probe ? 0 : this.address.ip) as Ipv4Addr,
        targetMac: 0 as Mac,
        targetIp: ip,
      }),
    );
  }

  /** Expire ARP entries and held fragments. */
  tick(now: number): void {
    for (const [ip, e] of this.arp) if (e.expires <= now) this.arp.delete(ip);
    this.reassembly.expire(now);
  }

  private arpInput(frame: Uint8Array, off: number, len: number, now: number): undefined {
    const why = this.arpView.attach(frame, off, len);
    if (why) return this.malformed(`arp: ${why}`);
    const a = this.arpView;
    const senderIp = a.senderIp;
    const senderMac = a.senderMac;
    if (senderMac === this.mac) return; // our own, reflected
    this.hooks.arpSeen?.(senderIp, senderMac);
    if (senderIp !== 0) {
      if (!this.arp.has(senderIp) && this.arp.size >= ARP_MAX) this.arp.delete(this.arp.keys().next().value!);
      if (!this.arp.has(senderIp)) this.stats.arpLearned++;
      this.arp.set(senderIp, { mac: senderMac, expires: now + ARP_TTL_MS });
    }
    if (a.op === ArpOp.REQUEST && this.address.ip !== 0 && a.targetIp === this.address.ip) {
      this.stats.arpRequestsAnswered++;
      this.hooks.send(
        arpFrame({
          dstMac: senderMac,
          srcMac: this.mac,
          op: ArpOp.REPLY,
          senderMac: this.mac,
          senderIp: this.address.ip,
          targetMac: senderMac,
          targetIp: senderIp,
        }),
      );
    }
  }

  private icmpInput(
    b: Uint8Array,
    ipOff: number,
    p: number,
    end: number,
    srcMac: Mac,
    mine: boolean,
    now: number,
  ): undefined {
    const why = this.icmp.attach(b, p, end);
    if (why) return this.malformed(`icmp: ${why}`);
    if (!this.icmp.checksumValid()) return this.malformed('icmp: bad checksum');
    if (this.icmp.type !== IcmpType.ECHO_REQUEST) return this.drop(`icmp type ${this.icmp.type}`);
    if (!mine) return this.drop('icmp echo to a broadcast');
    if (this.limited(this.echoes, now)) return;
    this.stats.echoReplies++;
    this.ip.attach(b, ipOff, end);
    this.hooks.send(
      icmpEchoFrame({
        dstMac: srcMac,
        srcMac: this.mac,
        src: this.address.ip,
        dst: this.ip.src,
        type: IcmpType.ECHO_REPLY,
        id: this.icmp.echoId,
        seq: this.icmp.echoSeq,
        payload: b.slice(this.icmp.payloadOffset, end),
      }),
    );
  }

  private udpInput(
    b: Uint8Array,
    ipOff: number,
    p: number,
    end: number,
    srcMac: Mac,
    mine: boolean,
    now: number,
  ): undefined {
    const why = this.udp.attach(b, p, end);
    if (why) return this.malformed(`udp: ${why}`);
    const src = this.ip.src;
    if (!this.udp.checksumValid(src, this.ip.dst)) return this.malformed('udp: bad checksum');
    if (this.udp.dstPort === 68 && this.hooks.dhcp) {
      this.stats.dhcp++;
      this.hooks.dhcp(
        b.slice(this.udp.payloadOffset, this.udp.payloadOffset + this.udp.payloadLength),
        srcMac,
        src,
      );
      return;
    }
    // No filter claimed it: no port is open there. RFC 1122 §3.2.2: no error for a broadcast.
    if (!mine) return this.drop('udp broadcast to a closed port');
    if (this.limited(this.errors, now)) return;
    this.stats.portUnreachableSent++;
    this.hooks.send(
      icmpErrorFrame({
        dstMac: srcMac,
        srcMac: this.mac,
        src: this.address.ip,
        dst: src,
        type: IcmpType.UNREACHABLE,
        code: 3, // port unreachable
        datagram: b.subarray(ipOff, end),
      }),
    );
  }

  private tcpInput(
    b: Uint8Array,
    p: number,
    end: number,
    srcMac: Mac,
    mine: boolean,
    now: number,
  ): undefined {
    const why = this.tcp.attach(b, p, end);
    if (why) return this.malformed(`tcp: ${why}`);
    const src = this.ip.src;
    if (!this.tcp.checksumValid(src, this.ip.dst)) return this.malformed('tcp: bad checksum');
    if (!mine) return this.drop('tcp to a broadcast');
    const flags = this.tcp.flags;
    if (flags & TcpFlag.RST) return this.drop('tcp rst to a closed port');
    if (this.limited(this.errors, now)) return;
    this.stats.resetsSent++;
    // RFC 793 (reset generation): answer the ACK's number, or ACK what came.
    const len = end - this.tcp.payloadOffset + (flags & TcpFlag.SYN ? 1 : 0) + (flags & TcpFlag.FIN ? 1 : 0);
    const acked = (flags & TcpFlag.ACK) !== 0;
    this.hooks.send(
      tcpFrame({
        dstMac: srcMac,
        srcMac: this.mac,
        src: this.address.ip,
        dst: src,
        srcPort: this.tcp.dstPort,
        dstPort: this.tcp.srcPort,
        seq: acked ? this.tcp.ack : 0,
        ack: acked ? 0 : (this.tcp.seq + len) >>> 0,
        flags: acked ? TcpFlag.RST : TcpFlag.RST | TcpFlag.ACK,
        window: 0,
      }),
    );
  }

  /** Before an address, DHCP replies come to yiaddr or broadcast: take UDP to port 68 whatever its address. */
  private dhcpBeforeAddress(): boolean {
    return this.address.ip === 0 && this.hooks.dhcp !== undefined;
  }

  /** True (and counted) when the bucket has no token for another answer now. */
  private limited(bucket: RateLimit, now: number): boolean {
    if (bucket.take(now)) return false;
    this.stats.rateLimited++;
    return true;
  }

  private drop(kind: string): undefined {
    this.stats.dropped[kind] = (this.stats.dropped[kind] ?? 0) + 1;
  }

  private malformed(cause: string): undefined {
    this.stats.malformed[cause] = (this.stats.malformed[cause] ?? 0) + 1;
  }
}
