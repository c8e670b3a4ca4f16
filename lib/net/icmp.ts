// ICMP (for IPv4): echo request and reply, and the header every message shares.
import { readU16, writeU16 } from './addr.ts';
import { checksumValid, internetChecksum } from './checksum.ts';
import type { Invalid } from './invalid.ts';

export const IcmpType = { ECHO_REPLY: 0, UNREACHABLE: 3, ECHO_REQUEST: 8, TIME_EXCEEDED: 11 } as const;
export const ICMP_HEADER = 8;

export class IcmpPacket {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  end = 0;

  attach(buf: Uint8Array, off: number, end = buf.length): Invalid | undefined {
    this.buf = buf;
    this.off = off;
    this.end = end;
    if (end - off < ICMP_HEADER || end > buf.length) return 'truncated';
    return undefined;
  }

  get type(): number {
    return this.buf[this.off]!;
  }
  get code(): number {
    return this.buf[this.off + 1]!;
  }
  get checksum(): number {
    return readU16(this.buf, this.off + 2);
  }
  /** Echo messages: identifier and sequence number. */
  get echoId(): number {
    return readU16(this.buf, this.off + 4);
  }
  get echoSeq(): number {
    return readU16(this.buf, this.off + 6);
  }
  get payloadOffset(): number {
    return this.off + ICMP_HEADER;
  }
  /** The checksum covers the whole message. */
  checksumValid(): boolean {
    return checksumValid(this.buf, this.off, this.end - this.off);
  }
}

/** Write an echo request or reply with `payload`; returns the message length. */
export function writeIcmpEcho(
  b: Uint8Array,
  off: number,
  f: { readonly type: number; readonly id: number; readonly seq: number; readonly payload?: Uint8Array },
): number {
  const len = ICMP_HEADER + (f.payload?.length ?? 0);
  b[off] = f.type;
  b[off + 1] = 0;
  writeU16(b, off + 2, 0);
  writeU16(b, off + 4, f.id);
  writeU16(b, off + 6, f.seq);
  if (f.payload) b.set(f.payload, off + ICMP_HEADER);
  writeU16(b, off + 2, internetChecksum(b, off, len));
  return len;
}

/**
 * Write an ICMP error (unreachable, time exceeded, ...) quoting `datagram`'s IP
 * header and first 8 bytes of its payload (RFC 792); returns the message length.
 */
export function writeIcmpError(
  b: Uint8Array,
  off: number,
  f: { readonly type: number; readonly code: number; readonly datagram: Uint8Array },
): number {
  const d = f.datagram;
  const hl = d.length > 0 ? (d[0]! & 0x0f) * 4 : 0;
  const quote = d.subarray(0, Math.min(d.length, hl + 8));
  const len = ICMP_HEADER + quote.length;
  b.fill(0, off, off + ICMP_HEADER);
  b[off] = f.type;
  b[off + 1] = f.code;
  b.set(quote, off + ICMP_HEADER);
  writeU16(b, off + 2, internetChecksum(b, off, len));
  return len;
}
