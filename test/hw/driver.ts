// A tiny e1000 driver for the tests: bring-up, rings, receive and transmit, through
// E1000Bus only, as the driver actor will. `settle` lets the device act: in the
// synchronous rig it runs a device turn; against the real thread it waits a moment.

import { RXD_STAT_DD, RXD_STAT_EOP } from '../../hw/e1000/descriptors.ts';
import {
  armRx,
  DESC_BYTES,
  type E1000Bus,
  macFromEepromWords,
  regs as R,
  RxDescriptor,
  rxStatus,
  TXD_CMD_EOP,
  TXD_CMD_IFCS,
  TXD_CMD_RS,
  txStatus,
  writeTx,
} from '../../hw/e1000/index.ts';
import type { Mac } from '../../lib/net/addr.ts';

export interface Layout {
  rxCount: number;
  txCount: number;
  /** Receive buffer size (RCTL.BSIZE). */
  bufferSize: number;
}

export const DEFAULT_LAYOUT: Layout = { rxCount: 8, txCount: 8, bufferSize: 2048 };

const BSIZE: Record<number, number> = {
  2048: R.RCTL_BSIZE_2048,
  1024: R.RCTL_BSIZE_1024,
  512: R.RCTL_BSIZE_512,
  256: R.RCTL_BSIZE_256,
};

export class TinyDriver {
  readonly layout: Layout;
  /** DMA offsets of the rings and buffers. */
  readonly rxRing = 0;
  readonly txRing: number;
  readonly rxBuffers: number;
  readonly txBuffers: number;
  /** Next receive descriptor to look at, next transmit descriptor to fill. */
  rxNext = 0;
  txNext = 0;
  txClean = 0;
  private readonly desc = new RxDescriptor();

  constructor(
    readonly bus: E1000Bus,
    readonly settle: () => Promise<void> | void,
    layout: Partial<Layout> = {},
  ) {
    this.layout = { ...DEFAULT_LAYOUT, ...layout };
    const { rxCount, txCount, bufferSize } = this.layout;
    this.txRing = align(rxCount * DESC_BYTES, 128);
    this.rxBuffers = align(this.txRing + txCount * DESC_BYTES, 4096);
    this.txBuffers = this.rxBuffers + rxCount * bufferSize;
    if (this.txBuffers + txCount * 2048 > bus.dma.size) throw new Error('layout does not fit DMA memory');
  }

  /** Wait (settling the device) until `check` holds; fail after `tries`. */
  async until(check: () => boolean, what: string, tries = 2000): Promise<void> {
    for (let i = 0; i < tries; i++) {
      if (check()) return;
      await this.settle();
    }
    throw new Error(`device never got to: ${what}`);
  }

  async reset(): Promise<void> {
    this.bus.write32(R.CTRL, R.CTRL_RST);
    await this.until(() => (this.bus.read32(R.CTRL) & R.CTRL_RST) === 0, 'CTRL.RST clear');
    this.bus.write32(R.IMC, 0xffff_ffff);
    this.bus.read32(R.ICR);
  }

  async readEeprom(word: number): Promise<number> {
    this.bus.write32(R.EERD, R.EERD_START | (word << R.EERD_ADDR_SHIFT));
    let v = 0;
    await this.until(() => ((v = this.bus.read32(R.EERD)) & R.EERD_DONE) !== 0, `EERD word ${word}`);
    return v >>> R.EERD_DATA_SHIFT;
  }

  async readMac(): Promise<Mac> {
    return macFromEepromWords(await this.readEeprom(0), await this.readEeprom(1), await this.readEeprom(2));
  }

  /** Program both rings, arm every receive buffer but one (the ring rule), enable. */
  setupRings(rctlExtra = R.RCTL_BAM): void {
    const b = this.bus;
    const { rxCount, txCount, bufferSize } = this.layout;
    const words = b.dma.words;
    for (let i = 0; i < rxCount; i++) {
      armRx(words, (this.rxRing + i * DESC_BYTES) / 4, b.dma.phys(this.rxBuffers + i * bufferSize));
    }
    const rxBase = b.dma.phys(this.rxRing);
    b.write32(R.RDBAL, rxBase >>> 0);
    b.write32(R.RDBAH, Math.floor(rxBase / 2 ** 32));
    b.write32(R.RDLEN, rxCount * DESC_BYTES);
    b.write32(R.RDH, 0);
    b.write32(R.RDT, rxCount - 1);
    const txBase = b.dma.phys(this.txRing);
    b.write32(R.TDBAL, txBase >>> 0);
    b.write32(R.TDBAH, Math.floor(txBase / 2 ** 32));
    b.write32(R.TDLEN, txCount * DESC_BYTES);
    b.write32(R.TDH, 0);
    b.write32(R.TDT, 0);
    b.write32(R.RCTL, R.RCTL_EN | R.RCTL_SECRC | BSIZE[bufferSize]! | rctlExtra);
    b.write32(R.TCTL, R.TCTL_EN | R.TCTL_PSP);
    this.rxNext = 0;
    this.txNext = this.txClean = 0;
  }

  async linkUp(): Promise<void> {
    this.bus.write32(R.CTRL, this.bus.read32(R.CTRL) | R.CTRL_SLU);
    await this.until(() => (this.bus.read32(R.STATUS) & R.STATUS_LU) !== 0, 'STATUS.LU');
  }

  /** The whole bring-up: reset, MAC from the EEPROM, rings, link, interrupts unmasked. */
  async bringUp(ims = R.INT_RXT0 | R.INT_TXDW | R.INT_LSC | R.INT_RXO | R.INT_RXDMT0): Promise<Mac> {
    await this.reset();
    const mac = await this.readMac();
    this.setupRings();
    await this.linkUp();
    this.bus.write32(R.IMS, ims);
    return mac;
  }

  /**
   * Frames completed in the receive ring (multi-descriptor ones joined); re-arms and
   * moves RDT once. A frame whose last descriptor is not done yet stays for next time.
   */
  receive(): Uint8Array[] {
    const b = this.bus;
    const { rxCount, bufferSize } = this.layout;
    const out: Uint8Array[] = [];
    for (;;) {
      // Find a whole frame first: DD on every descriptor up to one with EOP.
      let span = 0;
      let complete = false;
      while (span < rxCount - 1) {
        const at = this.rxAt((this.rxNext + span) % rxCount);
        const status = rxStatus(b.dma.words, at);
        if ((status & RXD_STAT_DD) === 0) break;
        span++;
        if (status & RXD_STAT_EOP) {
          complete = true;
          break;
        }
      }
      if (!complete) break;
      const parts: Uint8Array[] = [];
      for (let k = 0; k < span; k++) {
        const at = this.rxAt(this.rxNext);
        const d = this.desc.read(b.dma.words, at);
        const off = this.rxBuffers + this.rxNext * bufferSize;
        parts.push(b.dma.bytes.slice(off, off + d.length));
        armRx(b.dma.words, at, b.dma.phys(off));
        this.rxNext = (this.rxNext + 1) % rxCount;
      }
      out.push(concat(parts));
    }
    if (out.length > 0) b.write32(R.RDT, (this.rxNext - 1 + rxCount) % rxCount);
    return out;
  }

  /** Queue frames, one descriptor each (EOP|IFCS|RS), and move TDT once. False when the ring is full. */
  transmit(frames: Uint8Array[], cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS): boolean {
    const b = this.bus;
    const { txCount } = this.layout;
    this.reclaim();
    if (frames.length > txCount - 1 - ((this.txNext - this.txClean + txCount) % txCount)) return false;
    for (const f of frames) {
      const off = this.txBuffers + this.txNext * 2048;
      b.dma.bytes.set(f, off);
      writeTx(b.dma.words, (this.txRing + this.txNext * DESC_BYTES) / 4, b.dma.phys(off), f.length, cmd);
      this.txNext = (this.txNext + 1) % txCount;
    }
    b.write32(R.TDT, this.txNext);
    return true;
  }

  /** Descriptors the device reported done since the last call. */
  reclaim(): number {
    let n = 0;
    while (this.txClean !== this.txNext) {
      const at = (this.txRing + this.txClean * DESC_BYTES) / 4;
      if ((txStatus(this.bus.dma.words, at) & 1) === 0) break;
      this.txClean = (this.txClean + 1) % this.layout.txCount;
      n++;
    }
    return n;
  }

  /** Word index of receive / transmit descriptor i in DMA memory. */
  rxAt(i: number): number {
    return (this.rxRing + i * DESC_BYTES) / 4;
  }

  txAt(i: number): number {
    return (this.txRing + i * DESC_BYTES) / 4;
  }
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
