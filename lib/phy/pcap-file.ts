// A capture file written as frames come: classic pcap (lib/net/pcap.ts has the
// format), streamed to disk through a few fixed chunks of memory.
//
// Records are copied into the current chunk; a full chunk is queued and written
// with one fs.write while the next fills. Memory is bounded by bufferBytes: when
// every chunk is full or being written (the disk is slower than the link), a record
// is dropped and counted, as a kernel capture drops, rather than block the link or
// grow without bound. A timer (one, unref'd) writes a partly filled chunk after
// flushMs, so a long-running capture can be read while it runs.

import { close as fsClose, write as fsWrite, openSync } from 'node:fs';
import { FishnetError } from '../../protocols/errors.ts';
import {
  LINKTYPE_ETHERNET,
  PCAP_RECORD_HEADER,
  writePcapHeader,
  writePcapRecordHeader,
} from '../net/pcap.ts';
import { checkOptions, numberOption } from './options.ts';

export interface PcapFileOptions {
  /** Bytes kept of each frame. Default 65535. */
  readonly snaplen?: number;
  /** Memory for records not yet on disk. Default 4 MiB. */
  readonly bufferBytes?: number;
  /** Write what is buffered at the latest this long after it was captured; 0: only when a chunk fills, and on close. Default 1000. */
  readonly flushMs?: number;
}

export const PCAP_FILE_OPTIONS = ['snaplen', 'bufferBytes', 'flushMs'] as const;

export interface CaptureStats {
  /** Records buffered (and, unless a write failed, written). */
  records: number;
  /** Records not captured: every chunk was full or being written. */
  dropped: number;
  /** Records lost because a write failed (capture stops at the first failure). */
  lost: number;
  /** Bytes written to the file, its header included. */
  bytesWritten: number;
}

const CHUNK_BYTES = 256 * 1024;

interface Chunk {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  fill: number;
  records: number;
}

export class PcapFileWriter {
  readonly stats: CaptureStats = { records: 0, dropped: 0, lost: 0, bytesWritten: 0 };
  readonly snaplen: number;
  /** The first write error; nothing is captured after it. */
  error: Error | undefined;
  private fd: number;
  private readonly chunkBytes: number;
  private readonly maxChunks: number;
  private readonly chunks: Chunk[] = [];
  private readonly free: Chunk[] = [];
  private readonly queue: Chunk[] = [];
  private current: Chunk | undefined;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly flushMs: number;
  private waiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;
  private readonly onTimer = () => {
    this.timer = undefined;
    this.seal();
  };

  private constructor(
    readonly path: string,
    fd: number,
    snaplen: number,
    bufferBytes: number,
    flushMs: number,
  ) {
    this.fd = fd;
    this.snaplen = snaplen;
    this.flushMs = flushMs;
    // Chunks hold at least one whole record; at least two, so one fills while one is written.
    this.chunkBytes = Math.max(PCAP_RECORD_HEADER + snaplen, Math.min(CHUNK_BYTES, bufferBytes >>> 1));
    this.maxChunks = Math.max(2, Math.floor(bufferBytes / this.chunkBytes));
    const c = this.take()!;
    c.fill = writePcapHeader(c.view, 0, snaplen, LINKTYPE_ETHERNET);
    // The header goes out at once: a capture of a quiet link is a valid (empty) file, not nothing.
    void this.flush();
  }

  /** Create (or truncate) `path` and write the file header. Throws LINK_ERR_CAPTURE_FILE if it cannot be opened. */
  static open(path: string, options?: PcapFileOptions): PcapFileWriter {
    const where = 'PcapFileWriter.open';
    if (typeof path !== 'string' || path === '')
      throw new TypeError(`${where}: the file must be a non-empty path string, not ${JSON.stringify(path)}`);
    const o = checkOptions(where, options, PCAP_FILE_OPTIONS);
    const snaplen = numberOption(where, 'snaplen', o.snaplen, { min: 14, max: 262144, integer: true }, 65535);
    const minBuffer = 2 * (PCAP_RECORD_HEADER + snaplen);
    const bufferBytes = numberOption(
      where,
      'bufferBytes',
      o.bufferBytes,
      { min: minBuffer, max: 1 << 30, integer: true },
      Math.max(4 << 20, minBuffer),
    );
    const flushMs = numberOption(where, 'flushMs', o.flushMs, { min: 0, max: 2 ** 31 - 1 }, 1000);
    let fd: number;
    try {
      fd = openSync(path, 'w');
    } catch (e) {
      throw new FishnetError('LINK_ERR_CAPTURE_FILE', `open ${path}: ${(e as Error).message}`, { cause: e });
    }
    return new PcapFileWriter(path, fd, snaplen, bufferBytes, flushMs);
  }

  /** Bytes of memory the writer holds now (it never holds more than bufferBytes). */
  get memoryBytes(): number {
    return this.chunks.length * this.chunkBytes;
  }

  /** A flush timer is set (the timer is unref'd: it never keeps a process alive). */
  get flushScheduled(): boolean {
    return this.timer !== undefined;
  }

  /** Capture a frame seen at `timeMs` (ms since the epoch). False when it could not be buffered (counted). */
  record(frame: Uint8Array, timeMs: number): boolean {
    if (this.closing !== undefined || this.error !== undefined) {
      this.stats.dropped++;
      return false;
    }
    const cap = Math.min(frame.length, this.snaplen);
    const need = PCAP_RECORD_HEADER + cap;
    let c = this.current;
    if (c !== undefined && c.fill + need > this.chunkBytes) {
      this.seal();
      c = undefined;
    }
    if (c === undefined) {
      c = this.take();
      if (c === undefined) {
        this.stats.dropped++;
        return false;
      }
    }
    const at = c.fill + writePcapRecordHeader(c.view, c.fill, timeMs, cap, frame.length);
    c.bytes.set(cap === frame.length ? frame : frame.subarray(0, cap), at);
    c.fill = at + cap;
    c.records++;
    this.stats.records++;
    if (this.timer === undefined && this.flushMs > 0) {
      this.timer = setTimeout(this.onTimer, this.flushMs);
      this.timer.unref();
    }
    return true;
  }

  /** Write everything buffered so far; resolves when it is in the file. */
  flush(): Promise<void> {
    this.seal();
    if (!this.writing && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Flush, then close the file. Idempotent. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const done = this.flush();
    this.closing = done.then(
      () =>
        new Promise<void>((resolve) => {
          if (this.timer !== undefined) clearTimeout(this.timer);
          this.timer = undefined;
          fsClose(this.fd, (err) => {
            if (err && this.error === undefined) this.error = err;
            resolve();
          });
        }),
    );
    return this.closing;
  }

  private take(): Chunk | undefined {
    let c = this.free.pop();
    if (c === undefined) {
      if (this.chunks.length === this.maxChunks) return undefined;
      const bytes = new Uint8Array(this.chunkBytes);
      c = { bytes, view: new DataView(bytes.buffer), fill: 0, records: 0 };
      this.chunks.push(c);
    }
    this.current = c;
    return c;
  }

  private recycle(c: Chunk, lost: boolean): void {
    if (lost) this.stats.lost += c.records;
    c.fill = 0;
    c.records = 0;
    this.free.push(c);
  }

  /** Queue the current chunk for writing (if it holds anything) and start the writer. */
  private seal(): void {
    const c = this.current;
    if (c !== undefined && c.fill > 0) {
      this.current = undefined;
      this.queue.push(c);
    }
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pump();
  }

  private pump(): void {
    if (this.writing) return;
    if (this.error !== undefined) {
      // Later chunks cannot follow a hole in the file.
      for (const q of this.queue) this.recycle(q, true);
      this.queue.length = 0;
    }
    const c = this.queue.shift();
    if (c === undefined) {
      const w = this.waiters;
      this.waiters = [];
      for (const resolve of w) resolve();
      return;
    }
    this.writing = true;
    this.writeChunk(c, 0);
  }

  private writeChunk(c: Chunk, from: number): void {
    fsWrite(this.fd, c.bytes, from, c.fill - from, null, (err, n) => {
      if (!err && from + n < c.fill) {
        this.stats.bytesWritten += n;
        this.writeChunk(c, from + n); // a short write: the rest follows
        return;
      }
      if (err) this.error ??= err;
      else this.stats.bytesWritten += n;
      this.recycle(c, err !== null);
      this.writing = false;
      this.pump();
    });
  }
}
