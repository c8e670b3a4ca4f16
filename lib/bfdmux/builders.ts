// Filter builders: the tools.h family, with typed arguments. Each returns a filter
// expression (compile it with compileFilter). Offsets assume untagged Ethernet: a
// VLAN-tagged frame has ethertype 0x8100 at offset 12 and matches no IPv4 or ARP
// filter here (as with libpcap's `ip`, `arp` without `vlan`).
//
// "Any" is the ANY constant (the original used 0 for addresses and ports and
// ff:ff:ff:ff:ff:ff for MACs; 0.0.0.0 and port 0 are real values, e.g. for DHCP).
//
// The IPv4 header: by default a filter finds the transport header after the real
// header length (IHL), so it handles IP options, as libpcap does. With
// { ipHeader: 'fixed20' } it assumes 20 bytes as the original did, and says so: it
// then requires IHL = 5, so a packet with options does not match (and goes to netd).
//
// Port filters match unfragmented packets and first fragments only (fragment offset
// 0), as libpcap's `port` does: later fragments carry no ports, and the driver routes
// them after their first fragment.

import { type Ipv4Addr, isIpv4, isMac, isPort, type Mac, type Port } from '../net/addr.ts';

export const ANY: unique symbol = Symbol('any');
export type Any = typeof ANY;
export type Maybe<T> = T | Any;

export interface TransportOptions {
  /** 'options' (default): follow the IHL; 'fixed20': require a 20-byte header, as the original assumed. */
  readonly ipHeader?: 'options' | 'fixed20';
}

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
const BROADCAST = 0xffff_ffff_ffff as Mac;

const and = (...parts: (string | undefined)[]) => {
  // '1' is what a filter for "any" comes to: it adds nothing to a conjunction.
  const xs = parts.filter((p): p is string => p !== undefined && p !== '' && p !== '1');
  // && binds tighter than ||: a part with || in it is always parenthesised.
  return xs.length === 0
    ? '1'
    : xs.map((p) => (xs.length > 1 && p.includes('||') ? `(${p})` : p)).join(' && ');
};
const hex = (v: number) => `0x${v.toString(16)}`;

function checkMac(m: Maybe<Mac>, what: string): void {
  if (m !== ANY && !isMac(m)) throw new TypeError(`${what}: not a MAC address (${String(m)})`);
}
function checkIp(a: Maybe<Ipv4Addr>, what: string): void {
  if (a !== ANY && !isIpv4(a)) throw new TypeError(`${what}: not an IPv4 address (${String(a)})`);
}
function checkPort(p: Maybe<Port>, what: string): void {
  if (p !== ANY && !isPort(p)) throw new TypeError(`${what}: not a port (${String(p)})`);
}

/** A 6-byte field at `off` equals `m`: as a 32-bit and a 16-bit load. */
function macAt(off: number, m: Mac): string {
  const hi = Math.floor(m / 0x10000);
  const lo = m % 0x10000;
  return `int32[${off}] == ${hex(hi)} && int16[${off + 4}] == ${hex(lo)}`;
}

/** Frames to `mac` (build_dst_mac_filter). */
export function dstMacFilter(mac: Maybe<Mac>): string {
  checkMac(mac, 'dstMacFilter');
  return mac === ANY ? '1' : macAt(0, mac);
}

/** Frames from `mac` (build_src_mac_filter). */
export function srcMacFilter(mac: Maybe<Mac>): string {
  checkMac(mac, 'srcMacFilter');
  return mac === ANY ? '1' : macAt(6, mac);
}

const ipv4Type = `int16[12] == ${hex(ETHERTYPE_IPV4)}`;

/** IPv4 from `src` to `dst` (build_ipv4_filter). */
export function ipv4Filter(src: Maybe<Ipv4Addr>, dst: Maybe<Ipv4Addr>): string {
  checkIp(src, 'ipv4Filter src');
  checkIp(dst, 'ipv4Filter dst');
  return and(
    ipv4Type,
    src === ANY ? undefined : `int32[26] == ${hex(src)}`,
    dst === ANY ? undefined : `int32[30] == ${hex(dst)}`,
  );
}

function proto(p: number): string {
  return `int8[23] == ${p}`;
}

/** The transport header's offset, and the checks that come with assuming it. */
function l4(opts: TransportOptions = {}): { at: (k: number) => string; guard: string | undefined } {
  if (opts.ipHeader === 'fixed20') return { at: (k) => String(34 + k), guard: 'int8[14] == 0x45' };
  if (opts.ipHeader !== undefined && opts.ipHeader !== 'options') {
    throw new TypeError(`ipHeader must be 'options' or 'fixed20', not ${JSON.stringify(opts.ipHeader)}`);
  }
  return { at: (k) => `${14 + k} + (int8[14] & 15) * 4`, guard: undefined };
}

/** Not a later fragment: unfragmented, or the first fragment (which holds the ports). */
const firstFragment = '(int16[20] & 0x1fff) == 0';

function ports(sport: Maybe<Port>, dport: Maybe<Port>, opts?: TransportOptions): string | undefined {
  if (sport === ANY && dport === ANY) return undefined;
  const { at, guard } = l4(opts);
  return and(
    guard,
    firstFragment,
    sport === ANY ? undefined : `int16[${at(0)}] == ${sport}`,
    dport === ANY ? undefined : `int16[${at(2)}] == ${dport}`,
  );
}

/** ICMP (build_icmp_filter). */
export function icmpFilter(): string {
  return and(ipv4Type, proto(PROTO_ICMP));
}

/** TCP between ports (build_tcp_filter). */
export function tcpFilter(sport: Maybe<Port>, dport: Maybe<Port>, opts?: TransportOptions): string {
  checkPort(sport, 'tcpFilter sport');
  checkPort(dport, 'tcpFilter dport');
  return and(ipv4Type, proto(PROTO_TCP), ports(sport, dport, opts));
}

/** UDP between ports (build_udp_filter). */
export function udpFilter(sport: Maybe<Port>, dport: Maybe<Port>, opts?: TransportOptions): string {
  checkPort(sport, 'udpFilter sport');
  checkPort(dport, 'udpFilter dport');
  return and(ipv4Type, proto(PROTO_UDP), ports(sport, dport, opts));
}

export function ipv4IcmpFilter(src: Maybe<Ipv4Addr>, dst: Maybe<Ipv4Addr>): string {
  return and(ipv4Filter(src, dst), proto(PROTO_ICMP));
}

/** IPv4 from `src` to `dst`, a transport protocol, and its ports. */
export type Ipv4TransportFilter = (
  src: Maybe<Ipv4Addr>,
  dst: Maybe<Ipv4Addr>,
  sport: Maybe<Port>,
  dport: Maybe<Port>,
  opts?: TransportOptions,
) => string;

function ipv4Transport(protocol: number, name: string): Ipv4TransportFilter {
  return (src, dst, sport, dport, opts) => {
    checkPort(sport, `${name} sport`);
    checkPort(dport, `${name} dport`);
    return and(ipv4Filter(src, dst), proto(protocol), ports(sport, dport, opts));
  };
}

/** IPv4 TCP (build_ipv4_tcp_filter). */
export const ipv4TcpFilter = ipv4Transport(PROTO_TCP, 'ipv4TcpFilter');
/** IPv4 UDP (build_ipv4_udp_filter). */
export const ipv4UdpFilter = ipv4Transport(PROTO_UDP, 'ipv4UdpFilter');

/** The same, and a MAC address (destination or source) first. */
export type EtherIpv4TransportFilter = (mac: Maybe<Mac>, ...rest: Parameters<Ipv4TransportFilter>) => string;

function withMac(macFilter: (m: Maybe<Mac>) => string, inner: Ipv4TransportFilter): EtherIpv4TransportFilter {
  return (mac, ...rest) => and(macFilter(mac), inner(...rest));
}

/** To `mac`, IPv4 TCP (build_ether_dst_ipv4_tcp_filter). */
export const etherDstIpv4TcpFilter = withMac(dstMacFilter, ipv4TcpFilter);
/** To `mac`, IPv4 UDP (build_ether_dst_ipv4_udp_filter). */
export const etherDstIpv4UdpFilter = withMac(dstMacFilter, ipv4UdpFilter);
/** From `mac`, IPv4 TCP (build_ether_src_ipv4_tcp_filter). */
export const etherSrcIpv4TcpFilter = withMac(srcMacFilter, ipv4TcpFilter);
/** From `mac`, IPv4 UDP (build_ether_src_ipv4_udp_filter). */
export const etherSrcIpv4UdpFilter = withMac(srcMacFilter, ipv4UdpFilter);

/** Every ARP frame (build_generic_arp_reply_filter: netd's RX filter copied to every client). */
export function arpFilter(): string {
  return `int16[12] == ${ETHERTYPE_ARP}`;
}

/**
 * ARP that a stack may send (build_arp_transmit_filter): from our MAC, both in the
 * Ethernet header and as the ARP sender, so that no client can speak ARP for another.
 * With `ip`, the sender's protocol address must be it too (the original left it open,
 * so a client could claim the gateway's address for the NIC).
 */
export function arpTransmitFilter(mac: Mac, ip?: Ipv4Addr): string {
  checkMac(mac, 'arpTransmitFilter');
  if (ip !== undefined) checkIp(ip, 'arpTransmitFilter ip');
  return and(
    arpFilter(),
    macAt(6, mac),
    macAt(22, mac),
    ip === undefined ? undefined : `int32[28] == ${hex(ip)}`,
  );
}

/**
 * netd's port filters also require IP version 4 (libpcap's `ip` does not look).
 * A header length under 5 is left to the driver, which drops such frames coming in
 * and refuses them going out (so that the filters stay all atoms for the demux index).
 */
const ipVersion4 = '(int8[14] & 0xf0) == 0x40';

export interface PortFilterSpec extends TransportOptions {
  readonly mac: Mac;
  readonly ip: Ipv4Addr;
  readonly type: 'tcp' | 'udp';
  readonly port: Port;
  /** Also accept broadcast: to ff:ff:ff:ff:ff:ff and to 255.255.255.255 (for DHCP). */
  readonly broadcast?: boolean;
  /** With `broadcast`: the subnet's directed broadcast address too (e.g. 10.0.0.255 on 10.0.0.0/24). */
  readonly subnetBroadcast?: Ipv4Addr;
}

/**
 * netd's receive filter for an open port: to our MAC, to our IP, to the port
 * (and, with `broadcast`, to the broadcast MAC and address as well).
 */
export function portRxFilter(s: PortFilterSpec): string {
  checkMac(s.mac, 'portRxFilter mac');
  checkIp(s.ip, 'portRxFilter ip');
  checkPort(s.port, 'portRxFilter port');
  const p = s.type === 'tcp' ? PROTO_TCP : s.type === 'udp' ? PROTO_UDP : badType(s.type);
  const macs = s.broadcast ? `(${macAt(0, s.mac)}) || (${macAt(0, BROADCAST)})` : macAt(0, s.mac);
  if (s.subnetBroadcast !== undefined) {
    checkIp(s.subnetBroadcast, 'portRxFilter subnetBroadcast');
    if (!s.broadcast) throw new TypeError('portRxFilter: subnetBroadcast is given without broadcast');
  }
  const directed = s.subnetBroadcast !== undefined ? ` || int32[30] == ${hex(s.subnetBroadcast)}` : '';
  const ips = s.broadcast
    ? `int32[30] == ${hex(s.ip)} || int32[30] == 0xffffffff${directed}`
    : `int32[30] == ${hex(s.ip)}`;
  return and(macs, ipv4Type, ipVersion4, ips, proto(p), ports(ANY, s.port, s))!;
}

/** netd's transmit filter for an open port: from our MAC, from our IP, from the port. */
export function portTxFilter(s: Omit<PortFilterSpec, 'broadcast'>): string {
  checkMac(s.mac, 'portTxFilter mac');
  checkIp(s.ip, 'portTxFilter ip');
  checkPort(s.port, 'portTxFilter port');
  const p = s.type === 'tcp' ? PROTO_TCP : s.type === 'udp' ? PROTO_UDP : badType(s.type);
  return and(
    macAt(6, s.mac),
    ipv4Type,
    ipVersion4,
    `int32[26] == ${hex(s.ip)}`,
    proto(p),
    ports(s.port, ANY, s),
  )!;
}

function badType(t: unknown): never {
  throw new TypeError(`port type must be 'tcp' or 'udp', not ${JSON.stringify(t)}`);
}

/**
 * ICMP errors (destination unreachable, time exceeded, parameter problem) to our MAC
 * and address that quote a datagram we sent from `port`: netd registers one beside
 * each port's filters, so that the client stack can tell the socket (ECONNREFUSED).
 * Index-friendly: all but the type test are `field == constant` atoms.
 */
export function icmpErrorRxFilter(s: Omit<PortFilterSpec, 'broadcast' | 'ipHeader'>): string {
  checkMac(s.mac, 'icmpErrorRxFilter mac');
  checkIp(s.ip, 'icmpErrorRxFilter ip');
  checkPort(s.port, 'icmpErrorRxFilter port');
  const p = s.type === 'tcp' ? PROTO_TCP : s.type === 'udp' ? PROTO_UDP : badType(s.type);
  const icmp = '14 + (int8[14] & 15) * 4';
  const quote = '22 + (int8[14] & 15) * 4'; // the quoted IPv4 header, after the 8-byte ICMP header
  return and(
    macAt(0, s.mac),
    ipv4Type,
    ipVersion4,
    `int32[30] == ${hex(s.ip)}`,
    proto(PROTO_ICMP),
    firstFragment,
    `(int8[${icmp}] == 3 || int8[${icmp}] == 11 || int8[${icmp}] == 12)`,
    `(int8[${quote}] & 0xf0) == 0x40`,
    `(int8[${quote}] & 15) >= 5`,
    `int8[${quote} + 9] == ${p}`,
    `int32[${quote} + 12] == ${hex(s.ip)}`,
    `int16[${quote} + (int8[${quote}] & 15) * 4] == ${s.port}`,
  );
}
