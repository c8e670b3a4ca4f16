// UDP datagrams, with the checksum over the IPv4 pseudo-header.
import { type Ipv4Addr, readU16, writeU16 } from './addr.ts';
import { checksumValid, internetChecksum, pseudoHeaderSum } from './checksum.ts';
import type { Invalid } from './invalid.ts';

export const UDP_HEADER = 8;

export class UdpDatagram {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;

  attach(buf: Uint8Array, off: number, end = buf.length): Invalid | undefined {
    this.buf = buf;
    this.off = off;
    if (end - off < UDP_HEADER || end > buf.length) return 'truncated';
    const len = readU16(buf, off + 4);
    if (len < UDP_HEADER || off + len > end) return 'bad-length';
    return undefined;
  }

  get srcPort(): number {
    return readU16(this.buf, this.off);
  }
  get dstPort(): number {
    return readU16(this.buf, this.off + 2);
  }
  get length(): number {
    return readU16(this.buf, this.off + 4);
  }
  get checksum(): number {
    return readU16(this.buf, this.off + 6);
  }
  get payloadOffset(): number {
    return this.off + UDP_HEADER;
  }
  get payloadLength(): number {
    return this.length - UDP_HEADER;
  }
  /** A zero checksum means "none" in UDP over IPv4. */
  checksumValid(src: Ipv4Addr, dst: Ipv4Addr): boolean {
    return (
      this.checksum === 0 ||
      checksumValid(this.buf, this.off, this.length, pseudoHeaderSum(src, dst, 17, this.length))
    );
  }
}

export interface UdpFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
  readonly payload?: Uint8Array;
}

/** Write a UDP header and payload with its checksum; returns the datagram length. */
export function writeUdp(b: Uint8Array, off: number, f: UdpFields): number {
  const len = UDP_HEADER + (f.payload?.length ?? 0);
  writeU16(b, off, f.srcPort);
  writeU16(b, off + 2, f.dstPort);
  writeU16(b, off + 4, len);
  writeU16(b, off + 6, 0);
  if (f.payload) b.set(f.payload, off + UDP_HEADER);
  const c = internetChecksum(b, off, len, pseudoHeaderSum(f.src, f.dst, 17, len));
  writeU16(b, off + 6, c === 0 ? 0xffff : c);
  return len;
}
