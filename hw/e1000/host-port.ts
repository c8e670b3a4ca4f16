// The host's end of the NIC's cable, as a FramePort. Frames sent here go into the
// queue to the device and ring the device's doorbell once per batch (at the end of
// the current task, or every 64 frames during a long burst, so that a sleeping
// device starts draining while the sender is still sending). Frames the device
// transmits are drained in batches on the host's event loop and handed to the
// receiver; when none come for a few turns the port sleeps on its queue's doorbell,
// which the device rings at most once per batch.

import {
  emptyStats,
  type FramePort,
  type FrameReceiver,
  MAX_FRAME,
  MIN_FRAME,
  type PortStats,
} from '../../lib/phy/port.ts';
import type { Doorbell } from '../../lib/shm/doorbell.ts';
import {
  FRAME_MALFORMED,
  type FrameQueueReader,
  type FrameQueueWriter,
  QUEUE_CORRUPT,
  QUEUE_EMPTY,
} from '../../lib/shm/frames.ts';
import { FishnetError } from '../../protocols/errors.ts';

/** Frames handed to the receiver per turn of the event loop at most. */
export const HOST_RX_BUDGET = 256;
/** Frames sent before the device is told, within one task. */
const PUBLISH_EVERY = 64;

export interface HostPortOptions {
  /** Event-loop turns without frames before the port sleeps. */
  pollTurns: number;
  /** Problems worth a human's attention. */
  log: (kind: string, message: string) => void;
}

export class HostPort implements FramePort {
  readonly stats: PortStats = emptyStats();
  private receiver: FrameReceiver | undefined;
  private isClosed = false;
  private unflushed = 0;
  private flushQueued = false;
  private readonly done: Promise<void>;
  private readonly flushNow = () => this.flush();

  constructor(
    readonly name: string,
    private readonly toDevice: FrameQueueWriter,
    private readonly fromDevice: FrameQueueReader,
    private readonly deviceBell: Doorbell,
    private readonly opts: HostPortOptions,
  ) {
    this.done = this.run();
  }

  send(frame: Uint8Array): boolean {
    if (!(frame instanceof Uint8Array)) {
      throw new FishnetError('HW_ERR_BAD_OPTION', `${this.name}: send() takes a Uint8Array frame`);
    }
    const s = this.stats;
    if (this.isClosed) {
      s.dropped.closed++;
      return false;
    }
    const len = frame.length;
    if (len < MIN_FRAME || len > MAX_FRAME) {
      s.dropped['bad-length']++;
      return false;
    }
    const at = this.toDevice.reserve();
    if (at < 0) {
      this.flush(); // what is queued should at least be seen
      s.dropped['queue-full']++;
      return false;
    }
    this.toDevice.bytes.set(frame, at);
    this.toDevice.commit(len);
    s.txFrames++;
    s.txBytes += len;
    if (++this.unflushed >= PUBLISH_EVERY) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
    return true;
  }

  /** Publish what was sent and wake the device if it sleeps: once per batch. */
  private flush(): void {
    this.flushQueued = false;
    if (this.unflushed === 0) return;
    this.unflushed = 0;
    this.toDevice.publish();
    this.deviceBell.ring();
  }

  setReceiver(rx: FrameReceiver | undefined): void {
    this.receiver = rx;
  }

  async close(): Promise<void> {
    if (!this.isClosed) {
      this.isClosed = true;
      this.flush();
      this.fromDevice.close(); // wakes the receive loop
    }
    await this.done;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  private async run(): Promise<void> {
    let idle = 0;
    while (!this.isClosed) {
      let n = 0;
      try {
        n = this.drain();
      } catch (e) {
        // A receiver that throws is the program's bug: report it as uncaught, keep the link up.
        queueMicrotask(() => {
          throw e;
        });
        n = 1;
      }
      if (n > 0) idle = 0;
      else if (idle < this.opts.pollTurns) idle++;
      else {
        idle = 0;
        const sleeping = this.fromDevice.sleep();
        if (sleeping) await sleeping;
        continue;
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Hand up to a budget of frames to the receiver. */
  private drain(): number {
    const q = this.fromDevice;
    const s = this.stats;
    let n = 0;
    try {
      for (; n < HOST_RX_BUDGET; n++) {
        const len = q.front();
        if (len === QUEUE_EMPTY) break;
        if (len === QUEUE_CORRUPT) {
          this.opts.log('port-corrupt', `${this.name}: the queue from the device is corrupt: port closed`);
          s.dropped.malformed++;
          this.isClosed = true;
          break;
        }
        q.advance();
        if (len === FRAME_MALFORMED || len < MIN_FRAME || len > MAX_FRAME) {
          s.dropped.malformed++;
          continue;
        }
        const rx = this.receiver;
        if (rx === undefined) {
          s.dropped.closed++;
          continue;
        }
        s.rxFrames++;
        s.rxBytes += len;
        rx(q.frontView(len));
      }
    } finally {
      q.release();
    }
    return n;
  }
}
