// Capture files in the classic libpcap format, read and written so that tcpdump
// and Wireshark open them. Both byte orders and both timestamp resolutions (micro,
// nano) are read; files are written little-endian, microseconds, Ethernet.

import { writeFileSync } from 'node:fs';

export const LINKTYPE_ETHERNET = 1;
const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** Larger records than this are taken as corruption, as libpcap does (its limit is 256 KiB). */
export const MAX_RECORD = 262144;

export type PcapError =
  | 'bad-magic'
  | 'truncated-header'
  | 'unsupported-version'
  | 'truncated-record'
  | 'bad-record-length';

export interface PcapHeader {
  readonly littleEndian: boolean;
  readonly nanoseconds: boolean;
  readonly version: readonly [number, number];
  readonly snaplen: number;
  readonly linktype: number;
}

export interface PcapRecord {
  readonly seconds: number;
  /** Microseconds, or nanoseconds for a nanosecond file. */
  readonly fraction: number;
  /** The captured bytes (a view into the file, not a copy). */
  readonly data: Uint8Array;
  readonly originalLength: number;
  /** Where the record header starts in the file. */
  readonly offset: number;
}

export type PcapResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: PcapError; readonly at: number };

/** Reads records from the bytes of a whole capture file, without copying them. */
export class PcapReader {
  private at = GLOBAL_HEADER;
  private readonly u32: (off: number) => number;

  private constructor(
    readonly bytes: Uint8Array,
    readonly header: PcapHeader,
  ) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = header.littleEndian;
    this.u32 = (off) => v.getUint32(off, le);
  }

  /**
   * A reader over records only (no global header): a slice of a file whose header was
   * read elsewhere, cut at record boundaries (what each thread of a pool reads).
   */
  static overRecords(bytes: Uint8Array, header: PcapHeader): PcapReader {
    const r = new PcapReader(bytes, header);
    r.at = 0;
    return r;
  }

  static open(bytes: Uint8Array): PcapResult<PcapReader> {
    if (bytes.length < GLOBAL_HEADER) return { ok: false, error: 'truncated-header', at: 0 };
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let le: boolean;
    const m = v.getUint32(0, true);
    if (m === MAGIC_US || m === MAGIC_NS) le = true;
    else if (v.getUint32(0, false) === MAGIC_US || v.getUint32(0, false) === MAGIC_NS) le = false;
    else return { ok: false, error: 'bad-magic', at: 0 };
    const ns = v.getUint32(0, le) === MAGIC_NS;
    const major = v.getUint16(4, le);
    const minor = v.getUint16(6, le);
    if (major !== 2) return { ok: false, error: 'unsupported-version', at: 4 };
    const header: PcapHeader = {
      littleEndian: le,
      nanoseconds: ns,
      version: [major, minor],
      snaplen: v.getUint32(16, le),
      linktype: v.getUint32(20, le) & 0x0fff_ffff,
    };
    return { ok: true, value: new PcapReader(bytes, header) };
  }

  /** The next record, undefined at the end, or why the file cannot be read further. */
  next(): PcapRecord | undefined | { readonly error: PcapError; readonly at: number } {
    const b = this.bytes;
    const at = this.at;
    if (at === b.length) return undefined;
    if (b.length - at < RECORD_HEADER) return { error: 'truncated-record', at };
    const caplen = recordCaptureLength(b.subarray(at, at + RECORD_HEADER), this.header.littleEndian);
    if (typeof caplen !== 'number') return { error: caplen, at };
    if (b.length - at - RECORD_HEADER < caplen) return { error: 'truncated-record', at };
    this.at = at + RECORD_HEADER + caplen;
    return {
      seconds: this.u32(at),
      fraction: this.u32(at + 4),
      data: b.subarray(at + RECORD_HEADER, at + RECORD_HEADER + caplen),
      originalLength: this.u32(at + 12),
      offset: at,
    };
  }

  /** Every record, or the first error. */
  readAll(): PcapResult<PcapRecord[]> {
    const out: PcapRecord[] = [];
    for (;;) {
      const r = this.next();
      if (r === undefined) return { ok: true, value: out };
      if ('error' in r) return { ok: false, error: r.error, at: r.at };
      out.push(r);
    }
  }
}

/** Bytes of the file header and of each record's header. */
export const PCAP_HEADER = GLOBAL_HEADER;
export const PCAP_RECORD_HEADER = RECORD_HEADER;

/** Write the file header (little-endian, microseconds) at `off`; returns its length. */
export function writePcapHeader(v: DataView, off: number, snaplen: number, linktype: number): number {
  v.setUint32(off, MAGIC_US, true);
  v.setUint16(off + 4, 2, true);
  v.setUint16(off + 6, 4, true);
  v.setInt32(off + 8, 0, true);
  v.setUint32(off + 12, 0, true);
  v.setUint32(off + 16, snaplen, true);
  v.setUint32(off + 20, linktype, true);
  return GLOBAL_HEADER;
}

/**
 * Write a record header at `off` for a frame captured at `timeMs` (milliseconds since
 * the epoch, fractions kept to the microsecond); returns its length. The caller puts
 * `caplen` bytes of the frame after it.
 */
export function writePcapRecordHeader(
  v: DataView,
  off: number,
  timeMs: number,
  caplen: number,
  originalLength: number,
): number {
  const sec = Math.floor(timeMs / 1000);
  // Rounded (the milliseconds are binary fractions), but never up to 1 000 000 µs.
  const usec = Math.min(999_999, Math.round((timeMs - sec * 1000) * 1000));
  v.setUint32(off, sec, true);
  v.setUint32(off + 4, usec, true);
  v.setUint32(off + 8, caplen, true);
  v.setUint32(off + 12, originalLength, true);
  return RECORD_HEADER;
}

/** The captured length a record header announces, or why it cannot be believed. */
export function recordCaptureLength(recordHeader: Uint8Array, littleEndian: boolean): number | PcapError {
  if (recordHeader.length < RECORD_HEADER) return 'truncated-record';
  const v = new DataView(recordHeader.buffer, recordHeader.byteOffset, RECORD_HEADER);
  const caplen = v.getUint32(8, littleEndian);
  return caplen > MAX_RECORD ? 'bad-record-length' : caplen;
}

/** Builds a capture file in memory (or appends to one on disk). */
export class PcapWriter {
  private readonly chunks: Uint8Array[] = [];

  constructor(
    readonly snaplen = 65535,
    readonly linktype = LINKTYPE_ETHERNET,
  ) {
    const h = new Uint8Array(GLOBAL_HEADER);
    writePcapHeader(new DataView(h.buffer), 0, snaplen, linktype);
    this.chunks.push(h);
  }

  /** Add a frame captured at `timeMs` (milliseconds since the epoch); it is cut to the snaplen. */
  add(frame: Uint8Array, timeMs = Date.now(), originalLength = frame.length): void {
    const cap = Math.min(frame.length, this.snaplen);
    const rec = new Uint8Array(RECORD_HEADER + cap);
    writePcapRecordHeader(new DataView(rec.buffer), 0, timeMs, cap, originalLength);
    rec.set(frame.subarray(0, cap), RECORD_HEADER);
    this.chunks.push(rec);
  }

  get size(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  writeFile(path: string): void {
    writeFileSync(path, this.toBytes());
  }
}
