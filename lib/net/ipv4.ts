// IPv4 headers: options, flags, fragments, the header checksum.
import { type Ipv4Addr, readU16, readU32, writeU16, writeU32 } from './addr.ts';
import { checksumValid, internetChecksum } from './checksum.ts';
import type { Invalid } from './invalid.ts';

export const IpProtocol = { ICMP: 1, TCP: 6, UDP: 17 } as const;
export const IPV4_HEADER = 20;

export class Ipv4Packet {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;

  /** Check the header at `off`, with `end` the end of the bytes available. */
  attach(buf: Uint8Array, off: number, end = buf.length): Invalid | undefined {
    this.buf = buf;
    this.off = off;
    if (end - off < IPV4_HEADER || end > buf.length) return 'truncated';
    if (buf[off]! >>> 4 !== 4) return 'bad-version';
    const hl = (buf[off]! & 0x0f) * 4;
    if (hl < IPV4_HEADER || off + hl > end) return 'bad-header-length';
    const total = readU16(buf, off + 2);
    if (total < hl || off + total > end) return 'bad-total-length';
    return undefined;
  }

  get version(): number {
    return this.buf[this.off]! >>> 4;
  }
  get headerLength(): number {
    return (this.buf[this.off]! & 0x0f) * 4;
  }
  get dscp(): number {
    return this.buf[this.off + 1]! >>> 2;
  }
  get ecn(): number {
    return this.buf[this.off + 1]! & 3;
  }
  get totalLength(): number {
    return readU16(this.buf, this.off + 2);
  }
  get id(): number {
    return readU16(this.buf, this.off + 4);
  }
  get dontFragment(): boolean {
    return (this.buf[this.off + 6]! & 0x40) !== 0;
  }
  get moreFragments(): boolean {
    return (this.buf[this.off + 6]! & 0x20) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (readU16(this.buf, this.off + 6) & 0x1fff) * 8;
  }
  /** A fragment: MF set or a non-zero offset. */
  get isFragment(): boolean {
    return (readU16(this.buf, this.off + 6) & 0x3fff) !== 0;
  }
  get ttl(): number {
    return this.buf[this.off + 8]!;
  }
  get protocol(): number {
    return this.buf[this.off + 9]!;
  }
  get checksum(): number {
    return readU16(this.buf, this.off + 10);
  }
  get src(): Ipv4Addr {
    return readU32(this.buf, this.off + 12) as Ipv4Addr;
  }
  get dst(): Ipv4Addr {
    return readU32(this.buf, this.off + 16) as Ipv4Addr;
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  get payloadLength(): number {
    return this.totalLength - this.headerLength;
  }
  checksumValid(): boolean {
    return checksumValid(this.buf, this.off, this.headerLength);
  }

  /** The options, as (type, data) pairs; 'bad-option' when one runs past the header. */
  options(): { type: number; data: Uint8Array }[] | 'bad-option' {
    const out: { type: number; data: Uint8Array }[] = [];
    const end = this.off + this.headerLength;
    let i = this.off + IPV4_HEADER;
    while (i < end) {
      const type = this.buf[i]!;
      if (type === 0) break; // end of options
      if (type === 1) {
        i++; // no-op
        continue;
      }
      if (i + 1 >= end) return 'bad-option';
      const len = this.buf[i + 1]!;
      if (len < 2 || i + len > end) return 'bad-option';
      out.push({ type, data: this.buf.subarray(i + 2, i + len) });
      i += len;
    }
    return out;
  }
}

export interface Ipv4Fields {
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
  readonly protocol: number;
  readonly payloadLength: number;
  readonly ttl?: number;
  readonly id?: number;
  readonly dscp?: number;
  readonly dontFragment?: boolean;
  readonly moreFragments?: boolean;
  /** In bytes; a multiple of 8. */
  readonly fragmentOffset?: number;
  /** Raw option bytes, padded here to a multiple of 4 with end-of-options. */
  readonly options?: Uint8Array;
}

/** Write an IPv4 header with its checksum at `off`; returns the header length. */
export function writeIpv4(b: Uint8Array, off: number, f: Ipv4Fields): number {
  const optLen = f.options ? (f.options.length + 3) & ~3 : 0;
  const hl = IPV4_HEADER + optLen;
  if (hl > 60) throw new RangeError(`IPv4 options of ${f.options!.length} bytes do not fit a header`);
  if ((f.fragmentOffset ?? 0) % 8 !== 0) throw new RangeError('fragment offset must be a multiple of 8');
  b[off] = 0x40 | (hl / 4);
  b[off + 1] = (f.dscp ?? 0) << 2;
  writeU16(b, off + 2, hl + f.payloadLength);
  writeU16(b, off + 4, f.id ?? 0);
  writeU16(
    b,
    off + 6,
    (f.dontFragment ? 0x4000 : 0) | (f.moreFragments ? 0x2000 : 0) | ((f.fragmentOffset ?? 0) / 8),
  );
  b[off + 8] = f.ttl ?? 64;
  b[off + 9] = f.protocol;
  writeU16(b, off + 10, 0);
  writeU32(b, off + 12, f.src);
  writeU32(b, off + 16, f.dst);
  if (f.options) {
    b.set(f.options, off + IPV4_HEADER);
    b.fill(0, off + IPV4_HEADER + f.options.length, off + hl);
  }
  writeU16(b, off + 10, internetChecksum(b, off, hl));
  return hl;
}
