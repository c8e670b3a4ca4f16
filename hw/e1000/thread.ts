// The device's thread: the silicon's clock. One loop does, turn after turn, what the
// hardware does concurrently: latch register writes, take frames from the link into
// the receive ring, transmit, drive the interrupt line. When a turn finds nothing to
// do it looks again a few times, then sleeps on its one doorbell, which everything
// that gives it work rings (the bus, for register writes; the host end of the link,
// for frames; the embedding program, for control messages and shutdown). It wakes
// by itself only when a moderated interrupt (ITR) falls due.
//
// The loop blocks in Atomics.wait: the thread runs no event loop while it works.
// Control messages (the IOMMU's map/unmap) arrive on a MessagePort and are fetched
// with receiveMessageOnPort when the host page's CONTROL word says there are some.

import { type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import type { Mac } from '../../lib/net/addr.ts';
import { MAX_FRAME } from '../../lib/phy/port.ts';
import { Doorbell } from '../../lib/shm/doorbell.ts';
import {
  FRAME_MALFORMED,
  FrameQueueReader,
  FrameQueueWriter,
  QUEUE_CORRUPT,
  QUEUE_EMPTY,
} from '../../lib/shm/frames.ts';
import { FishnetError, type WireError } from '../../protocols/errors.ts';
import { E1000Device } from './device.ts';
import { PhysMap } from './phys.ts';
import { HOST_CONTROL, HOST_STOP, SIG_DOORBELL, SIG_GONE, SIG_IRQ, SIG_PENDING } from './signals.ts';
import { CountersPublisher } from './stats.ts';

export interface DeviceThreadInit {
  readonly mac: number;
  readonly regs: SharedArrayBuffer;
  readonly signals: SharedArrayBuffer;
  readonly host: SharedArrayBuffer;
  /** Frames from the host end of the link to the device. */
  readonly toDevice: SharedArrayBuffer;
  /** Frames the device transmits, to the host end. */
  readonly toHost: SharedArrayBuffer;
  readonly dma: { readonly base: number; readonly memory: SharedArrayBuffer };
  readonly control: MessagePort;
  /** Turns without work before the thread sleeps. */
  readonly pollTurns: number;
}

/** From the host: the IOMMU. */
export type ControlRequest =
  | { op: 'map'; id: number; base: number; memory: SharedArrayBuffer }
  | { op: 'unmap'; id: number; base: number };

/** To the host. */
export type ControlEvent =
  | { op: 'ready' }
  | { op: 'ack'; id: number; error?: WireError }
  | { op: 'log'; kind: string; message: string }
  | { op: 'stopped' };

/** Frames up to this long are copied word by word from the queue, no view made. */
const SMALL_FRAME = 256;

/** Frames taken from the link per turn at most (then transmit gets its turn). */
export const RX_BUDGET = 256;

export default function runDeviceThread(init: DeviceThreadInit): void {
  const host = new Int32Array(init.host);
  const sig = new Int32Array(init.signals);
  const bell = new Doorbell(sig, SIG_DOORBELL);
  const port = init.control;
  const post = (e: ControlEvent) => port.postMessage(e);
  const phys = new PhysMap();
  phys.map(init.dma.base, init.dma.memory);
  const fromLink = new FrameQueueReader(init.toDevice, MAX_FRAME);
  // Room for a frame and the FCS a driver may supply (the device strips it before commit).
  const toLink = new FrameQueueWriter(init.toHost, MAX_FRAME + 4);
  const clock = () => performance.now() * 1e6;
  const device = new E1000Device({
    regs: init.regs,
    signals: init.signals,
    phys,
    mac: init.mac as Mac,
    clock,
    link: toLink,
    log: (kind, message) => post({ op: 'log', kind, message }),
  });
  const counters = device.counters;
  const publisher = new CountersPublisher(init.host);
  let linkBroken = false;

  const control = (): number => {
    Atomics.store(host, HOST_CONTROL, 0);
    let n = 0;
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port)) {
      const req = m.message as ControlRequest;
      n++;
      try {
        if (req.op === 'map') {
          phys.map(req.base, req.memory);
          device.memoryChanged();
        } else if (req.op === 'unmap') {
          if (!phys.unmap(req.base)) {
            throw new FishnetError('HW_ERR_BAD_REGION', `nothing is mapped at 0x${req.base.toString(16)}`);
          }
        }
        post({ op: 'ack', id: req.id });
      } catch (e) {
        post({ op: 'ack', id: req.id, error: FishnetError.wrap(e, 'HW_ERR_BAD_REGION').toWire() });
      }
    }
    return n;
  };

  const receive = (): number => {
    if (linkBroken) return 0;
    let n = 0;
    for (; n < RX_BUDGET; n++) {
      const length = fromLink.front();
      if (length === QUEUE_EMPTY) break;
      if (length === QUEUE_CORRUPT) {
        linkBroken = true;
        counters.linkFailures++;
        post({
          op: 'log',
          kind: 'link-corrupt',
          message: 'the host queue to the device is corrupt: link abandoned',
        });
        break;
      }
      if (length === FRAME_MALFORMED) counters.rxBadLength++;
      // Small frames by range (no view whatever their mix of lengths); big ones by their
      // slot's view, which TypedArray.set copies fastest and the queue keeps per slot.
      else if (length <= SMALL_FRAME) device.receiveAt(fromLink.bytes, fromLink.frameOffset, length);
      else device.receive(fromLink.frontView(length));
      fromLink.advance();
    }
    if (n > 0) fromLink.release();
    return n;
  };

  const hasWork = (now: number): boolean =>
    Atomics.load(host, HOST_STOP) !== 0 ||
    Atomics.load(host, HOST_CONTROL) !== 0 ||
    Atomics.load(sig, SIG_PENDING) !== 0 ||
    (!linkBroken && fromLink.front() !== QUEUE_EMPTY) ||
    device.transmitPending() ||
    device.nextDeadline <= now;

  post({ op: 'ready' });
  let idle = 0;
  while (Atomics.load(host, HOST_STOP) === 0) {
    let work = 0;
    if (Atomics.load(host, HOST_CONTROL) !== 0) work += control();
    work += device.applyWrites();
    work += receive();
    work += device.transmit();
    device.endTurn(clock());
    toLink.flush();
    if (work > 0) {
      publisher.publish(counters);
      idle = 0;
      continue;
    }
    if (idle < init.pollTurns) {
      idle++;
      continue;
    }
    publisher.publish(counters);
    const seq = bell.prepare();
    const now = clock();
    if (hasWork(now)) {
      bell.cancel();
      continue;
    }
    const deadline = device.nextDeadline;
    bell.wait(seq, deadline === Number.POSITIVE_INFINITY ? deadline : Math.max(0, (deadline - now) / 1e6));
    idle = 0;
  }

  // Shut down: interrupt waiters learn that the device is gone.
  Atomics.store(sig, SIG_GONE, 1);
  Atomics.notify(sig, SIG_IRQ);
  publisher.publish(counters);
  post({ op: 'stopped' });
  port.close();
}
