// Whole frames in one call: Ethernet + IPv4 + UDP/TCP/ICMP, and ARP. For tests,
// benchmarks and the stacks that answer ARP and ping.
import type { Mac } from './addr.ts';
import { type ArpFields, writeArp } from './arp.ts';
import { EtherType, writeEthernet } from './ethernet.ts';
import { writeIcmpEcho, writeIcmpError } from './icmp.ts';
import { IpProtocol, type Ipv4Fields, writeIpv4 } from './ipv4.ts';
import { type TcpFields, writeTcp } from './tcp.ts';
import { writeUdp } from './udp.ts';

export interface LinkFields {
  readonly dstMac: Mac;
  readonly srcMac: Mac;
  readonly vlans?: readonly number[];
}

/** IPv4 header fields; its options are `ipOptions` (TCP has options of its own). */
export type IpFields = Omit<Ipv4Fields, 'protocol' | 'payloadLength' | 'options'> & {
  readonly ipOptions?: Uint8Array;
};

const ip = (f: IpFields, protocol: number, payloadLength: number): Ipv4Fields => ({
  ...f,
  options: f.ipOptions,
  protocol,
  payloadLength,
});

/** An IPv4 frame around a payload (a fragment, or a protocol with no builder of its own). */
export function ipv4Frame(
  f: LinkFields & IpFields & { readonly protocol: number; readonly payload: Uint8Array },
): Uint8Array {
  const b = new Uint8Array(14 + 8 + 60 + f.payload.length);
  const l2 = writeEthernet(b, 0, { dst: f.dstMac, src: f.srcMac, ethertype: EtherType.IPV4, vlans: f.vlans });
  const l3 = writeIpv4(b, l2, ip(f, f.protocol, f.payload.length));
  b.set(f.payload, l2 + l3);
  return b.slice(0, l2 + l3 + f.payload.length);
}

/** The bytes a transport-layer writer produces. */
function segment(write: (b: Uint8Array, off: number) => number): Uint8Array {
  const b = new Uint8Array(9000);
  return b.slice(0, write(b, 0));
}

export function udpFrame(
  f: LinkFields &
    IpFields & { readonly srcPort: number; readonly dstPort: number; readonly payload?: Uint8Array },
): Uint8Array {
  return ipv4Frame({ ...f, protocol: IpProtocol.UDP, payload: segment((b, o) => writeUdp(b, o, f)) });
}

export function tcpFrame(f: LinkFields & IpFields & Omit<TcpFields, 'src' | 'dst'>): Uint8Array {
  return ipv4Frame({ ...f, protocol: IpProtocol.TCP, payload: segment((b, o) => writeTcp(b, o, f)) });
}

export function icmpEchoFrame(
  f: LinkFields &
    IpFields & {
      readonly type: number;
      readonly id: number;
      readonly seq: number;
      readonly payload?: Uint8Array;
    },
): Uint8Array {
  return ipv4Frame({ ...f, protocol: IpProtocol.ICMP, payload: segment((b, o) => writeIcmpEcho(b, o, f)) });
}

/** An ICMP error about `datagram` (its IPv4 header and on), quoting what RFC 792 says. */
export function icmpErrorFrame(
  f: LinkFields & IpFields & { readonly type: number; readonly code: number; readonly datagram: Uint8Array },
): Uint8Array {
  return ipv4Frame({ ...f, protocol: IpProtocol.ICMP, payload: segment((b, o) => writeIcmpError(b, o, f)) });
}

export function arpFrame(f: LinkFields & ArpFields): Uint8Array {
  const b = new Uint8Array(60); // padded to the Ethernet minimum
  const l2 = writeEthernet(b, 0, { dst: f.dstMac, src: f.srcMac, ethertype: EtherType.ARP, vlans: f.vlans });
  writeArp(b, l2, f);
  return b.slice(0, Math.max(60, l2 + 28));
}
