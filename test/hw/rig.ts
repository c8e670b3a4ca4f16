// The device model on the test's own thread, driven turn by turn, with a clock the
// test moves and a link that records what the device transmits.
import { E1000Bus, E1000Device, type LinkSink, PhysMap, regs as R } from '../../hw/e1000/index.ts';
import { createSignals, SIG_IRQ } from '../../hw/e1000/signals.ts';
import type { Mac } from '../../lib/net/addr.ts';
import { mac as parseMac, writeMac } from '../../lib/net/addr.ts';
import { type Layout, TinyDriver } from './driver.ts';

export const NIC_MAC: Mac = parseMac('02:00:00:00:00:01');
export const PEER_MAC: Mac = parseMac('02:00:00:00:00:09');
export const OTHER_MAC: Mac = parseMac('02:00:00:00:00:05');
export const BROADCAST: Mac = parseMac('ff:ff:ff:ff:ff:ff');

/** An Ethernet frame of `length` bytes to `dst` (EtherType 0x88B5, local use), payload from `seed`. */
export function frame(dst: Mac, length: number, seed = 0, src: Mac = PEER_MAC): Uint8Array {
  const f = new Uint8Array(length);
  writeMac(f, 0, dst);
  writeMac(f, 6, src);
  f[12] = 0x88;
  f[13] = 0xb5;
  for (let i = 14; i < length; i++) f[i] = (i * 31 + seed * 7 + (seed >>> 8)) & 0xff;
  return f;
}
export const DMA_BASE = 2 ** 32;
export const DMA_BYTES = 256 * 1024;

export class Rig {
  readonly regs = new SharedArrayBuffer(R.BAR0_BYTES);
  readonly signals = createSignals();
  readonly phys = new PhysMap();
  readonly memory = new SharedArrayBuffer(DMA_BYTES);
  /** Nanoseconds, as the device sees them. */
  now = 0;
  /** Frames the device put on the link. */
  readonly sent: Uint8Array[] = [];
  private readonly linkBytes = new Uint8Array(2048).fill(0xee);
  /** When false, the link drops what the device sends. */
  linkAccepts = true;
  readonly logs: { kind: string; message: string }[] = [];
  readonly device: E1000Device;
  readonly bus: E1000Bus;
  readonly driver: TinyDriver;

  constructor(layout: Partial<Layout> = {}, mac = NIC_MAC) {
    this.phys.map(DMA_BASE, this.memory);
    this.device = new E1000Device({
      regs: this.regs,
      signals: this.signals,
      phys: this.phys,
      mac,
      clock: () => this.now,
      link: {
        bytes: this.linkBytes,
        words: new Int32Array(this.linkBytes.buffer),
        reserve: () => (this.linkAccepts ? 8 : -1),
        commit: (length) => {
          this.sent.push(this.linkBytes.slice(8, 8 + length));
          this.linkBytes.fill(0xee); // stale bytes must not leak into the next frame
        },
      },
      log: (kind, message) => this.logs.push({ kind, message }),
    });
    this.bus = new E1000Bus({
      regs: this.regs,
      signals: this.signals,
      dma: { base: DMA_BASE, memory: this.memory },
    });
    this.driver = new TinyDriver(this.bus, () => void this.device.service(), layout);
  }

  /** One device turn. */
  turn(): number {
    return this.device.service();
  }

  /** A frame arrives from the link; the turn's end (ICR, statistics, interrupt line) follows. */
  deliver(frame: Uint8Array): boolean {
    const ok = this.device.receive(frame);
    this.device.endTurn();
    return ok;
  }

  /** Interrupt assertions so far (the IRQ word of the signals page). */
  get irqs(): number {
    return Atomics.load(new Int32Array(this.signals), SIG_IRQ);
  }

  /** Reset, link up, rings set up (interrupts masked unless given). */
  async up(ims = 0): Promise<void> {
    await this.driver.reset();
    this.driver.setupRings();
    await this.driver.linkUp();
    this.bus.read32(R.ICR);
    if (ims) this.bus.write32(R.IMS, ims);
    this.turn();
  }
}

/** A link that takes every frame and forgets it. */
export function discard(): LinkSink {
  const bytes = new Uint8Array(2048);
  return { bytes, words: new Int32Array(bytes.buffer), reserve: () => 0, commit: () => {} };
}
