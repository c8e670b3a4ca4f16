// TCP segments: header, flags, options, the checksum over the pseudo-header.
import { type Ipv4Addr, readU16, readU32, writeU16, writeU32 } from './addr.ts';
import { checksumValid, internetChecksum, pseudoHeaderSum } from './checksum.ts';
import type { Invalid } from './invalid.ts';

export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;
export const TCP_HEADER = 20;

export type TcpOption =
  | { readonly kind: 'mss'; readonly value: number }
  | { readonly kind: 'window-scale'; readonly shift: number }
  | { readonly kind: 'sack-permitted' }
  | { readonly kind: 'sack'; readonly blocks: readonly [number, number][] }
  | { readonly kind: 'timestamps'; readonly value: number; readonly echo: number }
  | { readonly kind: 'unknown'; readonly type: number; readonly data: Uint8Array };

export class TcpSegment {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  end = 0;

  attach(buf: Uint8Array, off: number, end = buf.length): Invalid | undefined {
    this.buf = buf;
    this.off = off;
    this.end = end;
    if (end - off < TCP_HEADER || end > buf.length) return 'truncated';
    const hl = (buf[off + 12]! >>> 4) * 4;
    if (hl < TCP_HEADER || off + hl > end) return 'bad-data-offset';
    return undefined;
  }

  get srcPort(): number {
    return readU16(this.buf, this.off);
  }
  get dstPort(): number {
    return readU16(this.buf, this.off + 2);
  }
  get seq(): number {
    return readU32(this.buf, this.off + 4);
  }
  get ack(): number {
    return readU32(this.buf, this.off + 8);
  }
  get headerLength(): number {
    return (this.buf[this.off + 12]! >>> 4) * 4;
  }
  get flags(): number {
    return this.buf[this.off + 13]!;
  }
  has(flag: number): boolean {
    return (this.flags & flag) !== 0;
  }
  get window(): number {
    return readU16(this.buf, this.off + 14);
  }
  get checksum(): number {
    return readU16(this.buf, this.off + 16);
  }
  get urgent(): number {
    return readU16(this.buf, this.off + 18);
  }
  get payloadOffset(): number {
    return this.off + this.headerLength;
  }
  checksumValid(src: Ipv4Addr, dst: Ipv4Addr): boolean {
    const len = this.end - this.off;
    return checksumValid(this.buf, this.off, len, pseudoHeaderSum(src, dst, 6, len));
  }

  options(): TcpOption[] | 'bad-option' {
    const out: TcpOption[] = [];
    const b = this.buf;
    const end = this.off + this.headerLength;
    let i = this.off + TCP_HEADER;
    while (i < end) {
      const type = b[i]!;
      if (type === 0) break;
      if (type === 1) {
        i++;
        continue;
      }
      if (i + 1 >= end) return 'bad-option';
      const len = b[i + 1]!;
      if (len < 2 || i + len > end) return 'bad-option';
      const want: Record<number, number> = { 2: 4, 3: 3, 4: 2, 8: 10 };
      if (want[type] !== undefined && len !== want[type]) return 'bad-option';
      if (type === 2) out.push({ kind: 'mss', value: readU16(b, i + 2) });
      else if (type === 3) out.push({ kind: 'window-scale', shift: b[i + 2]! });
      else if (type === 4) out.push({ kind: 'sack-permitted' });
      else if (type === 8)
        out.push({ kind: 'timestamps', value: readU32(b, i + 2), echo: readU32(b, i + 6) });
      else if (type === 5) {
        if ((len - 2) % 8 !== 0) return 'bad-option';
        const blocks: [number, number][] = [];
        for (let j = i + 2; j < i + len; j += 8) blocks.push([readU32(b, j), readU32(b, j + 4)]);
        out.push({ kind: 'sack', blocks });
      } else out.push({ kind: 'unknown', type, data: b.subarray(i + 2, i + len) });
      i += len;
    }
    return out;
  }
}

export interface TcpFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly src: Ipv4Addr;
  readonly dst: Ipv4Addr;
  readonly seq: number;
  readonly ack?: number;
  readonly flags: number;
  readonly window?: number;
  readonly options?: readonly TcpOption[];
  readonly payload?: Uint8Array;
}

function encodeOptions(opts: readonly TcpOption[]): number[] {
  const out: number[] = [];
  const u16 = (v: number) => out.push(v >>> 8, v & 0xff);
  const u32 = (v: number) => out.push(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  for (const o of opts) {
    if (o.kind === 'mss') {
      out.push(2, 4);
      u16(o.value);
    } else if (o.kind === 'window-scale') out.push(3, 3, o.shift);
    else if (o.kind === 'sack-permitted') out.push(4, 2);
    else if (o.kind === 'timestamps') {
      out.push(8, 10);
      u32(o.value);
      u32(o.echo);
    } else if (o.kind === 'sack') {
      out.push(5, 2 + 8 * o.blocks.length);
      for (const [l, r] of o.blocks) {
        u32(l);
        u32(r);
      }
    } else out.push(o.type, 2 + o.data.length, ...o.data);
  }
  while (out.length % 4) out.push(1); // pad to a multiple of 4 with no-ops
  return out;
}

/** Write a TCP header, options and payload with its checksum; returns the segment length. */
export function writeTcp(b: Uint8Array, off: number, f: TcpFields): number {
  const opts = encodeOptions(f.options ?? []);
  const hl = TCP_HEADER + opts.length;
  if (hl > 60) throw new RangeError(`TCP options of ${opts.length} bytes do not fit a header`);
  const len = hl + (f.payload?.length ?? 0);
  writeU16(b, off, f.srcPort);
  writeU16(b, off + 2, f.dstPort);
  writeU32(b, off + 4, f.seq);
  writeU32(b, off + 8, f.ack ?? 0);
  b[off + 12] = (hl / 4) << 4;
  b[off + 13] = f.flags;
  writeU16(b, off + 14, f.window ?? 65535);
  writeU16(b, off + 16, 0);
  writeU16(b, off + 18, 0);
  b.set(opts, off + TCP_HEADER);
  if (f.payload) b.set(f.payload, off + hl);
  writeU16(b, off + 16, internetChecksum(b, off, len, pseudoHeaderSum(f.src, f.dst, 6, len)));
  return len;
}
