// A cable: two FramePorts joined in this process. What a test or an embedding
// program plugs into a NIC or a switch to inject frames and read what comes out.
//
// Each direction is a bounded queue of preallocated slots. send() copies the frame
// in and returns; frames reach the far end's receiver later, in batches, from one
// setImmediate per batch, so a receiver never runs inside send(). A drain delivers
// only the frames queued when it began: a receiver that sends back (a loop through
// a switch, say) cannot starve the event loop.
//
// The cable carries any length from 0 to maxFrame bytes, runts included, because a
// test wants to inject them; receivers (the switch, the NIC) check what they get.

import { FrameRing } from './frame-ring.ts';
import { checkOptions, numberOption, stringOption } from './options.ts';
import { emptyStats, type FramePort, type FrameReceiver, MAX_FRAME, type PortStats } from './port.ts';

export interface CableOptions {
  /** Names the ends `${name}.a` and `${name}.b`. Default 'cable'. */
  readonly name?: string;
  /** Frames each direction holds before it drops ('queue-full'). Default 256. */
  readonly capacity?: number;
  /** Largest frame carried, in bytes ('bad-length' beyond). Default 1518. */
  readonly maxFrame?: number;
}

const OPTIONS = ['name', 'capacity', 'maxFrame'] as const;

/** One end of a cable. */
export class CableEnd implements FramePort {
  readonly stats: PortStats = emptyStats();
  private receiver: FrameReceiver | undefined;
  private peer!: CableEnd;
  private scheduled: NodeJS.Immediate | undefined;
  private closed = false;
  private readonly drainNow = () => this.drain();

  /** @internal use cable() */
  constructor(
    readonly name: string,
    /** Frames sent from this end, not yet delivered to the far end. */
    private readonly outbound: FrameRing,
  ) {}

  /** @internal */
  static join(a: CableEnd, b: CableEnd): void {
    a.peer = b;
    b.peer = a;
  }

  /** Frames sent from this end that the far end has not received yet. */
  get inFlight(): number {
    return this.outbound.size;
  }

  send(frame: Uint8Array): boolean {
    const s = this.stats;
    if (this.closed) {
      s.dropped.closed++;
      return false;
    }
    if (frame.length > this.outbound.slotSize) {
      s.dropped['bad-length']++;
      return false;
    }
    if (!this.outbound.push(frame)) {
      s.dropped['queue-full']++;
      return false;
    }
    s.txFrames++;
    s.txBytes += frame.length;
    if (this.scheduled === undefined) this.scheduled = setImmediate(this.drainNow);
    return true;
  }

  setReceiver(rx: FrameReceiver | undefined): void {
    this.receiver = rx;
  }

  /** Unplug the cable: both ends stop; frames still queued are dropped ('closed', at the end they were going to). */
  close(): Promise<void> {
    if (!this.closed) {
      this.shut();
      this.peer.shut();
    }
    return Promise.resolve();
  }

  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.peer.stats.dropped.closed += this.outbound.clear();
    this.receiver = undefined;
  }

  private drain(): void {
    this.scheduled = undefined;
    const ring = this.outbound;
    const peer = this.peer;
    const ps = peer.stats;
    let n = ring.size;
    try {
      while (n-- > 0 && !this.closed) {
        const frame = ring.peek();
        const rx = peer.receiver;
        if (rx === undefined) {
          ps.dropped.closed++;
          ring.shift();
          continue;
        }
        ps.rxFrames++;
        ps.rxBytes += frame.length;
        // Shift after the call: the slot the receiver is reading is not reused meanwhile.
        try {
          rx(frame);
        } finally {
          ring.shift();
        }
      }
    } finally {
      // Frames queued during this drain (or left by a receiver that threw) go in the next batch.
      if (ring.size > 0 && !this.closed && this.scheduled === undefined)
        this.scheduled = setImmediate(this.drainNow);
    }
  }
}

/** A pair of connected FramePorts: what one end sends, the other receives. */
export function cable(options?: CableOptions): readonly [CableEnd, CableEnd] {
  const o = checkOptions('cable', options, OPTIONS);
  const name = stringOption('cable', 'name', o.name, 'cable');
  const capacity = numberOption('cable', 'capacity', o.capacity, { min: 1, max: 65536, integer: true }, 256);
  const maxFrame = numberOption(
    'cable',
    'maxFrame',
    o.maxFrame,
    { min: 1, max: 65535, integer: true },
    MAX_FRAME,
  );
  const a = new CableEnd(`${name}.a`, new FrameRing(capacity, maxFrame));
  const b = new CableEnd(`${name}.b`, new FrameRing(capacity, maxFrame));
  CableEnd.join(a, b);
  return [a, b];
}
