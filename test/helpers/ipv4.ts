// IPv4 datagrams for the fragmentation and reassembly tests.
import { type Ipv4Addr, ipv4, writeIpv4 } from '../../lib/net/index.ts';

export const SRC = ipv4('10.0.0.2');
export const DST = ipv4('10.0.0.9');

/** An IPv4 datagram with `n` payload bytes (a counting pattern). */
export function datagram(
  n: number,
  f: {
    src?: Ipv4Addr;
    dst?: Ipv4Addr;
    id?: number;
    options?: Uint8Array;
    df?: boolean;
    protocol?: number;
    mf?: boolean;
    offset?: number;
  } = {},
): Uint8Array {
  const payload = Uint8Array.from({ length: n }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
  const b = new Uint8Array(60 + n);
  const hl = writeIpv4(b, 0, {
    src: f.src ?? SRC,
    dst: f.dst ?? DST,
    protocol: f.protocol ?? 253, // experimental: no transport rules apply
    payloadLength: n,
    id: f.id ?? 0x1234,
    options: f.options,
    dontFragment: f.df,
    moreFragments: f.mf,
    fragmentOffset: f.offset,
  });
  b.set(payload, hl);
  return b.slice(0, hl + n);
}
