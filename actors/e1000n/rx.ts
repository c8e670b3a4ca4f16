// The driver's receive path. The device has put a frame in one of the driver's
// private buffers; the driver decides whose it is and copies it into that client's
// next pbuf, or drops it (counted), and the private buffer is re-armed at once.
//
// Dispatch order, as in the original: IP fragments (the first one decides for its
// datagram), then the port filters (first match wins), then the ARP filter (a copy
// to every client and to the default buffer), and what no filter claims goes to the
// default buffer (netd's). A client without a free pbuf loses that frame alone.

import { copyBytes } from './copy.ts';
import type { FilterTable } from './filters.ts';
import { type FragmentTable, isFragment } from './fragments.ts';
import type { ClientSession, SessionRx } from './sessions.ts';

export interface RxStats {
  frames: number;
  bytes: number;
  /** Frames that went to the default buffer because no filter claimed them. */
  unclaimed: number;
  /** ARP frames copied to every client. */
  arp: number;
  readonly dropped: {
    /** Unclaimed, and no default buffer is set. */
    noDefault: number;
    /** IPv4 with a header length under 5 words, which no filter may see. */
    badIpHeader: number;
    /** Delivered to no one: every target refused it (no pbuf, ring full). */
    undelivered: number;
  };
}

export class RxPath {
  readonly stats: RxStats = {
    frames: 0,
    bytes: 0,
    unclaimed: 0,
    arp: 0,
    dropped: { noDefault: 0, badIpHeader: 0, undelivered: 0 },
  };
  /** netd's RX buffer: what no filter claims goes there. */
  defaultBuffer: SessionRx | undefined;
  private frame: Uint8Array = new Uint8Array(0);
  private len = 0;
  private readonly classifyNow = () => this.classifyFirst();
  private readonly deliverNow = (b: SessionRx, f: Uint8Array, n: number) => {
    this.deliver(b, f, n);
  };

  constructor(
    private readonly filters: FilterTable,
    private readonly fragments: FragmentTable<SessionRx>,
    private readonly sessions: () => Iterable<ClientSession>,
  ) {}

  /** One frame from the device (a view valid during the call). `now` is for fragment expiry. */
  receive(frame: Uint8Array, len: number, now: number): void {
    this.stats.frames++;
    this.stats.bytes += len;
    // IPv4 (untagged) with IHL < 5: filters assume a real header; nobody gets it.
    if (frame[12] === 0x08 && frame[13] === 0x00 && len > 14 && (frame[14]! & 0x0f) < 5) {
      this.stats.dropped.badIpHeader++;
      return;
    }
    if (isFragment(frame, len)) {
      this.frame = frame;
      this.len = len;
      this.fragments.receive(frame, len, now, this.classifyNow, this.deliverNow);
      return;
    }
    const f = this.filters.classify(frame, len);
    if (f !== undefined) {
      f.rxFrames++;
      f.rxBytes += len;
      if (!this.deliver(f.rx, frame, len)) this.stats.dropped.undelivered++;
      return;
    }
    if (this.filters.isArp(frame, len)) {
      this.stats.arp++;
      let any = false;
      for (const s of this.sessions()) {
        const b = s.firstRx();
        if (b !== undefined && b !== this.defaultBuffer && this.deliver(b, frame, len)) any = true;
      }
      if (this.defaultBuffer && this.deliver(this.defaultBuffer, frame, len)) any = true;
      if (!any) this.stats.dropped.undelivered++;
      return;
    }
    this.unclaimed(frame, len);
  }

  /** Copy a frame into the next pbuf of an RX buffer and tell its client. False: dropped (counted for the client). */
  deliver(b: SessionRx, frame: Uint8Array, len: number): boolean {
    const s = b.session;
    if (!b.alive) return false;
    const i = b.pbufs.front();
    if (i < 0) {
      s.stats.rxDropped.noPbuf++;
      return false;
    }
    const offset = b.pbufs.offset(i);
    if (b.pbufs.length(i) < len) {
      // Pbufs are registered at least a full frame long; this one was a lie. It goes.
      b.pbufs.shift();
      s.stats.rxDropped.pbufTooSmall++;
      return false;
    }
    copyBytes(b.bytes, offset, frame, 0, len);
    if (!s.ep.tx.packet_received(b.pbufs.id(i), offset, len, len)) {
      // The client's ring is full: it keeps the pbuf, and loses this frame alone.
      s.stats.rxDropped.ringFull++;
      return false;
    }
    b.pbufs.shift();
    s.stats.rxFrames++;
    s.stats.rxBytes += len;
    return true;
  }

  private unclaimed(frame: Uint8Array, len: number): void {
    this.stats.unclaimed++;
    if (!this.defaultBuffer?.alive) {
      this.stats.dropped.noDefault++;
      return;
    }
    if (!this.deliver(this.defaultBuffer, frame, len)) this.stats.dropped.undelivered++;
  }

  /** A first fragment: which buffer its datagram goes to (a port filter's, else the default). */
  private classifyFirst(): SessionRx | undefined {
    const f = this.filters.classify(this.frame, this.len);
    if (f !== undefined) {
      f.rxFrames++;
      f.rxBytes += this.len;
      return f.rx;
    }
    this.stats.unclaimed++;
    return this.defaultBuffer?.alive ? this.defaultBuffer : undefined;
  }
}
