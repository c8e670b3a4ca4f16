// What a client stack needs netd to register for each UDP port it opens, beyond
// bfdmux's portRxFilter / portTxFilter (which match unfragmented datagrams and first
// fragments only):
//  - icmpErrorRxFilter: ICMP errors (destination unreachable, time exceeded,
//    parameter problem) to our address that quote a datagram from our address and
//    this port, so that the stack can tell the socket (ECONNREFUSED ...);
//  - laterFragmentTxFilter: the later fragments of the stack's own large datagrams
//    (from our MAC and address, this protocol, fragment offset > 0). A later
//    fragment carries no port, so this filter cannot tell one client's fragments
//    from another's: any client with an open port of the protocol may send them.
// netd registers them as a second filter pair bound to the same buffers.
import { type Ipv4Addr, isIpv4, isMac, isPort, type Mac, type Port } from '../net/index.ts';

const hex = (v: number) => `0x${v.toString(16)}`;

function macAt(off: number, m: Mac): string {
  return `int32[${off}] == ${hex(Math.floor(m / 0x10000))} && int16[${off + 4}] == ${hex(m % 0x10000)}`;
}

function check(mac: Mac, ip: Ipv4Addr, port?: Port): void {
  if (!isMac(mac)) throw new TypeError(`not a MAC address: ${String(mac)}`);
  if (!isIpv4(ip)) throw new TypeError(`not an IPv4 address: ${String(ip)}`);
  if (port !== undefined && !isPort(port)) throw new TypeError(`not a port: ${String(port)}`);
}

const PROTO = { udp: 17, tcp: 6 } as const;

/** ICMP errors to us about a datagram we sent from `port` (UDP or TCP). */
export function icmpErrorRxFilter(s: {
  readonly mac: Mac;
  readonly ip: Ipv4Addr;
  readonly type: 'udp' | 'tcp';
  readonly port: Port;
}): string {
  check(s.mac, s.ip, s.port);
  const ihl = '(int8[14] & 15) * 4';
  const icmp = `14 + ${ihl}`;
  const quote = `22 + ${ihl}`; // the quoted IPv4 header, after the 8-byte ICMP header
  return [
    macAt(0, s.mac),
    'int16[12] == 0x800',
    '(int8[14] & 0xf0) == 0x40',
    `int32[30] == ${hex(s.ip)}`,
    'int8[23] == 1',
    '(int16[20] & 0x1fff) == 0',
    `(int8[${icmp}] == 3 || int8[${icmp}] == 11 || int8[${icmp}] == 12)`,
    `(int8[${quote}] & 0xf0) == 0x40`,
    `int8[${quote} + 9] == ${PROTO[s.type]}`,
    `int32[${quote} + 12] == ${hex(s.ip)}`,
    `int16[${quote} + (int8[${quote}] & 15) * 4] == ${s.port}`,
  ].join(' && ');
}

/** Later fragments (offset > 0) of our datagrams of this protocol, from our MAC and address. */
export function laterFragmentTxFilter(s: {
  readonly mac: Mac;
  readonly ip: Ipv4Addr;
  readonly type: 'udp' | 'tcp';
}): string {
  check(s.mac, s.ip);
  return [
    macAt(6, s.mac),
    'int16[12] == 0x800',
    '(int8[14] & 0xf0) == 0x40',
    `int32[26] == ${hex(s.ip)}`,
    `int8[23] == ${PROTO[s.type]}`,
    '(int16[20] & 0x1fff) != 0',
  ].join(' && ');
}
