// Running a filter over a capture file: in this thread, or over a pool of threads for
// a capture too large for one. The file is split into byte ranges of whole records;
// each thread reads only its range and returns the numbers of the frames that match.

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import {
  PCAP_HEADER as GLOBAL,
  type PcapError,
  type PcapHeader,
  PcapReader,
  PCAP_RECORD_HEADER as RECORD,
  recordCaptureLength,
} from '../net/pcap.ts';
import { jitFilter } from './jit.ts';
import { verifyFilter } from './verify.ts';

export interface FilterRun {
  readonly frames: number;
  readonly matched: number;
  /** 1-based frame numbers. */
  readonly matches: number[];
}

export class CaptureError extends Error {
  constructor(
    readonly file: string,
    readonly error: PcapError | 'unreadable',
    readonly at: number,
  ) {
    super(`${file}: ${error}${error === 'unreadable' ? '' : ` at byte ${at}`}`);
    this.name = 'CaptureError';
  }
}

/** One range of a capture: the bytes of whole records, and the number of the first one. */
export interface Slice {
  readonly path: string;
  readonly start: number;
  readonly end: number;
  readonly firstFrame: number;
  readonly header: PcapHeader;
}

/** Read a file's header and record boundaries (headers only), and cut it into `parts` slices of whole records. */
export function sliceCapture(path: string, parts: number): { frames: number; slices: Slice[] } {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const head = Buffer.alloc(GLOBAL);
    readSync(fd, head, 0, GLOBAL, 0);
    const opened = PcapReader.open(new Uint8Array(head.buffer, head.byteOffset, GLOBAL));
    if (!opened.ok) throw new CaptureError(path, opened.error, opened.at);
    const header = opened.value.header;
    const rec = new Uint8Array(RECORD);
    const target = Math.max(1, Math.ceil((size - GLOBAL) / parts));
    const slices: Slice[] = [];
    let at = GLOBAL;
    let frame = 1;
    let start = at;
    let first = 1;
    while (at < size) {
      if (size - at < RECORD) throw new CaptureError(path, 'truncated-record', at);
      readSync(fd, rec, 0, RECORD, at);
      const caplen = recordCaptureLength(rec, header.littleEndian);
      if (typeof caplen !== 'number') throw new CaptureError(path, caplen, at);
      if (at + RECORD + caplen > size) throw new CaptureError(path, 'truncated-record', at);
      at += RECORD + caplen;
      frame++;
      if (at - start >= target) {
        slices.push({ path, start, end: at, firstFrame: first, header });
        start = at;
        first = frame;
      }
    }
    if (at > start) slices.push({ path, start, end: at, firstFrame: first, header });
    return { frames: frame - 1, slices };
  } finally {
    closeSync(fd);
  }
}

/** Run verified filter code over one slice of a capture (what each pool thread does). */
export function runSlice(code: Uint8Array, s: Slice): number[] {
  const v = verifyFilter(code);
  if (!v.ok) throw new Error(`filter code does not verify: ${v.reason}`);
  const f = jitFilter(v.program);
  const fd = openSync(s.path, 'r');
  const buf = Buffer.alloc(s.end - s.start);
  try {
    readSync(fd, buf, 0, buf.length, s.start);
  } finally {
    closeSync(fd);
  }
  const reader = PcapReader.overRecords(new Uint8Array(buf.buffer, buf.byteOffset, buf.length), s.header);
  const out: number[] = [];
  for (let frame = s.firstFrame; ; frame++) {
    const r = reader.next();
    if (r === undefined) return out;
    if ('error' in r) throw new CaptureError(s.path, r.error, s.start + r.at);
    if (f(r.data, r.data.length) === 1) out.push(frame);
  }
}

/** The whole capture in this thread. */
export function runCapture(code: Uint8Array, path: string): FilterRun {
  const { frames, slices } = sliceCapture(path, 1);
  const matches = slices.flatMap((s) => runSlice(code, s));
  return { frames, matched: matches.length, matches };
}
