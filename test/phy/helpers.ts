// Shared by the link tests: frames that carry an id, waiting for cables to drain,
// collecting what a port receives.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { type Mac, readU32, writeMac, writeU16, writeU32 } from '../../lib/net/index.ts';
import { emptyStats, type FramePort, type FrameReceiver } from '../../lib/phy/index.ts';

/** The local experimental ethertype (IEEE 802 "Local Experimental Ethertype 1"). */
export const TEST_ETHERTYPE = 0x88b5;

/** A frame from `src` to `dst` of `len` bytes (at least 18) carrying `id` after the header. */
export function idFrame(dst: Mac, src: Mac, id: number, len = 60): Uint8Array {
  const b = new Uint8Array(Math.max(len, 18));
  writeMac(b, 0, dst);
  writeMac(b, 6, src);
  writeU16(b, 12, TEST_ETHERTYPE);
  writeU32(b, 14, id);
  for (let i = 18; i < b.length; i++) b[i] = (id + i) & 0xff;
  return b;
}

export const frameId = (f: Uint8Array): number => readU32(f, 14);

/** Wait until nothing is in flight on the given cable ends (each turn lets one batch drain). */
export async function settle(...ends: { readonly inFlight: number }[]): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    await nextTurn();
    if (ends.every((e) => e.inFlight === 0)) {
      await nextTurn();
      if (ends.every((e) => e.inFlight === 0)) return;
    }
  }
  throw new Error('cables did not drain in 10 000 turns');
}

/** Copies of every frame the port receives from now on. */
export function collect(port: FramePort): Uint8Array[] {
  const got: Uint8Array[] = [];
  port.setReceiver((f) => got.push(f.slice()));
  return got;
}

/** How many timers (Timeout objects) keep the event loop alive now. */
export const activeTimers = (): number =>
  process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

/** A FramePort for middleware tests: keeps copies of what is sent, and injects received frames at once. */
export class ProbePort implements FramePort {
  readonly stats = emptyStats();
  readonly sent: Uint8Array[] = [];
  closed = false;
  private rx: FrameReceiver | undefined;
  constructor(readonly name = 'probe') {}
  send(frame: Uint8Array): boolean {
    if (this.closed) {
      this.stats.dropped.closed++;
      return false;
    }
    this.sent.push(frame.slice());
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    return true;
  }
  setReceiver(rx: FrameReceiver | undefined): void {
    this.rx = rx;
  }
  /** A frame arrives from the far end. */
  inject(frame: Uint8Array): void {
    if (this.rx === undefined) {
      this.stats.dropped.closed++;
      return;
    }
    this.stats.rxFrames++;
    this.rx(frame);
  }
  close(): Promise<void> {
    this.closed = true;
    this.rx = undefined;
    return Promise.resolve();
  }
}
