// The pcap tap: a middleware that records every frame crossing a port, both ways,
// with its time, in a classic pcap file (what tcpdump -w writes). It stands on any
// FramePort and is one itself.
//
// A frame sent is recorded when it is offered, before the inner port takes it or
// drops it, as tcpdump records what a host transmits; a frame received is recorded
// when the inner port delivers it. Classic pcap has no direction field: tell the
// directions apart by addresses. Capture drops (the disk behind) are counted in
// stats.capture, never slow the link.

import { checkOptions, checkPort, functionOption, stringOption } from './options.ts';
import { type CaptureStats, PCAP_FILE_OPTIONS, type PcapFileOptions, PcapFileWriter } from './pcap-file.ts';
import { emptyStats, type FramePort, type FrameReceiver, type PortStats } from './port.ts';

export interface PcapTapOptions extends PcapFileOptions {
  /** Default `${inner.name}+pcap`. */
  readonly name?: string;
  /** The capture clock: milliseconds since the epoch, with fractions. Default performance.timeOrigin + performance.now(). */
  readonly now?: () => number;
}

export interface PcapTapStats extends PortStats {
  readonly capture: CaptureStats;
}

const OPTIONS = ['name', 'now', ...PCAP_FILE_OPTIONS] as const;
const WHERE = 'pcapTap';

/**
 * A tap's stats count what it passed on: txFrames the frames the inner port accepted
 * (one it refuses is counted there, by cause), rxFrames the frames handed to the
 * receiver; frames that arrive with no receiver are dropped here as 'closed'.
 */
export class PcapTap implements FramePort {
  readonly name: string;
  readonly stats: PcapTapStats;
  readonly file: PcapFileWriter;
  private receiver: FrameReceiver | undefined;
  private closing: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    readonly inner: FramePort,
    path: string,
    options?: PcapTapOptions,
  ) {
    checkPort(WHERE, 'inner', inner);
    const o = checkOptions(WHERE, options, OPTIONS);
    this.name = stringOption(WHERE, 'name', o.name, `${inner.name}+pcap`);
    this.now = functionOption(WHERE, 'now', o.now, () => performance.timeOrigin + performance.now());
    this.file = PcapFileWriter.open(path, {
      snaplen: o.snaplen as number | undefined,
      bufferBytes: o.bufferBytes as number | undefined,
      flushMs: o.flushMs as number | undefined,
    });
    this.stats = { ...emptyStats(), capture: this.file.stats };
    inner.setReceiver((frame) => this.receive(frame));
  }

  send(frame: Uint8Array): boolean {
    if (this.closing !== undefined) {
      this.stats.dropped.closed++;
      return false;
    }
    this.file.record(frame, this.now());
    if (!this.inner.send(frame)) return false;
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    return true;
  }

  setReceiver(rx: FrameReceiver | undefined): void {
    this.receiver = rx;
  }

  /** Write the rest of the capture, close the file and the inner port. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.receiver = undefined;
    this.closing = Promise.all([this.inner.close(), this.file.close()]).then(() => undefined);
    return this.closing;
  }

  private receive(frame: Uint8Array): void {
    const s = this.stats;
    if (this.closing !== undefined) {
      s.dropped.closed++;
      return;
    }
    this.file.record(frame, this.now());
    const rx = this.receiver;
    if (rx === undefined) {
      s.dropped.closed++;
      return;
    }
    s.rxFrames++;
    s.rxBytes += frame.length;
    rx(frame);
  }
}

/** Wrap `inner` so that every frame it carries, both ways, is recorded in the pcap file `path`. */
export function pcapTap(inner: FramePort, path: string, options?: PcapTapOptions): PcapTap {
  return new PcapTap(inner, path, options);
}
