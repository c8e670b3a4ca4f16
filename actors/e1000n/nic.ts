// The driver's side of its e1000: the bring-up sequence, the device's receive ring
// of the driver's private 2 KiB buffers, and its transmit ring. Everything here goes
// through the bus (register reads and writes, the interrupt line) and the DMA
// memory the driver was handed at spawn, as a driver drives the real card.
//
// DMA memory layout (offsets in the driver's memory; the device sees base + offset):
//   RX descriptor ring | TX descriptor ring | RX buffers (2 KiB each) | TX header slots

import {
  armRx,
  DESC_BYTES,
  E1000Bus,
  type E1000DriverCaps,
  regs as R,
  RXD_STAT_DD,
  RXD_STAT_EOP,
  rxStatus,
  TXD_CMD_EOP,
  TXD_CMD_IFCS,
  TXD_CMD_RS,
  TXD_STAT_DD,
  txStatus,
  writeTx,
} from '../../hw/e1000/index.ts';
import type { Mac } from '../../lib/net/index.ts';
import { checkOptions, numberOption } from '../../lib/phy/options.ts';
import { FishnetError } from '../../protocols/errors.ts';

export const RX_BUFFER = 2048;
/** A TX header slot: the private copy of what the transmit filters read (and whole small frames). */
export const HEADER_SLOT = 256;

export interface NicOptions {
  /** Receive descriptors (a multiple of 8). Default 2048: a burst the driver has not yet drained waits here rather than being missed. */
  readonly rxDescriptors?: number;
  /** Transmit descriptors (a multiple of 8). Default 512. */
  readonly txDescriptors?: number;
  /** Header slots for frames in flight or queued. Default 2048. */
  readonly headerSlots?: number;
  /** ITR: the least interval between interrupts, in 256 ns units (0: none). Default 0. */
  readonly itr?: number;
}

/** The causes the driver unmasks. */
const INTERRUPTS = R.INT_RXT0 | R.INT_RXO | R.INT_RXDMT0 | R.INT_TXDW | R.INT_LSC;

/** Resolve after the next turn of the event loop (a short poll, not a spin). */
const tick = () => new Promise<void>((r) => setImmediate(r));

export class DriverNic {
  readonly bus: E1000Bus;
  readonly rxCount: number;
  readonly txCount: number;
  readonly headerSlots: number;
  mac = 0 as Mac;

  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly rxRing: number;
  private readonly txRing: number;
  private readonly rxBuffers: number;
  private readonly headers: number;
  private rxNext = 0;
  private txTail = 0;
  private txClean = 0;
  private txTailWritten = 0;
  private readonly freeSlots: Int32Array;
  private freeCount: number;
  /** Per transmit descriptor: the frame it ends (its token), or -1. */
  private readonly txToken: Int32Array;
  /** One view per private receive buffer and per header slot, made once: none per frame. */
  private readonly rxViews: Uint8Array[] = [];
  private readonly slotViews: Uint8Array[] = [];
  /** Descriptors the device gave back in a shape no frame has (no EOP, a bad length): counted, not delivered. */
  deviceFaults = 0;

  constructor(caps: E1000DriverCaps, opts: NicOptions = {}) {
    this.bus = new E1000Bus(caps);
    this.words = this.bus.dma.words;
    this.bytes = this.bus.dma.bytes;
    const o = nicOptions(opts);
    this.rxCount = o.rxDescriptors;
    this.txCount = o.txDescriptors;
    this.headerSlots = o.headerSlots;
    this.rxRing = 0;
    this.txRing = this.rxRing + this.rxCount * DESC_BYTES;
    this.rxBuffers = align(this.txRing + this.txCount * DESC_BYTES, RX_BUFFER);
    this.headers = this.rxBuffers + this.rxCount * RX_BUFFER;
    const need = this.headers + this.headerSlots * HEADER_SLOT;
    if (need > this.bus.dma.size) {
      throw new FishnetError(
        'E1000_ERR_NOT_ENOUGH_MEM',
        `rings and buffers need ${need} bytes of DMA memory, the driver has ${this.bus.dma.size}`,
      );
    }
    this.txToken = new Int32Array(this.txCount).fill(-1);
    this.freeSlots = new Int32Array(this.headerSlots);
    for (let i = 0; i < this.headerSlots; i++) this.freeSlots[i] = this.headerSlots - 1 - i;
    this.freeCount = this.headerSlots;
    this.itr = o.itr;
    for (let i = 0; i < this.rxCount; i++)
      this.rxViews.push(this.bytes.subarray(this.rxBuf(i), this.rxBuf(i) + RX_BUFFER));
    for (let i = 0; i < this.headerSlots; i++) {
      const at = this.headers + i * HEADER_SLOT;
      this.slotViews.push(this.bytes.subarray(at, at + HEADER_SLOT));
    }
  }

  private readonly itr: number;

  /**
   * The real sequence: reset and wait for it, read the MAC from the EEPROM, program
   * the receive address, the rings and their buffers, enable receive and transmit,
   * set the link up, unmask interrupts.
   */
  async bringUp(): Promise<void> {
    const b = this.bus;
    b.write32(R.IMC, -1);
    b.write32(R.CTRL, b.read32(R.CTRL) | R.CTRL_RST);
    await this.until(() => (b.read32(R.CTRL) & R.CTRL_RST) === 0, 'reset');
    b.write32(R.IMC, -1);
    b.read32(R.ICR);

    const word = async (addr: number) => {
      b.write32(R.EERD, (addr << R.EERD_ADDR_SHIFT) | R.EERD_START);
      let v = 0;
      await this.until(() => {
        v = b.read32(R.EERD);
        return (v & R.EERD_DONE) !== 0;
      }, 'EEPROM read');
      return v >>> R.EERD_DATA_SHIFT;
    };
    const w0 = await word(0);
    const w1 = await word(1);
    const w2 = await word(2);
    // EEPROM words hold the MAC little-endian: word 0 = octets 1,0 (low byte first).
    this.mac = ((w0 & 0xff) * 2 ** 40 +
      (w0 >>> 8) * 2 ** 32 +
      (w1 & 0xff) * 2 ** 24 +
      (w1 >>> 8) * 2 ** 16 +
      (w2 & 0xff) * 2 ** 8 +
      (w2 >>> 8)) as Mac;
    b.write32(R.RAL0, (w1 << 16) | w0);
    b.write32(R.RAH0, w2 | 0x8000_0000);
    for (let i = 0; i < R.MTA_WORDS; i++) b.write32(R.MTA + 4 * i, 0);

    // Receive: every descriptor armed with its private buffer; the device owns all but one.
    for (let i = 0; i < this.rxCount; i++) armRx(this.words, this.rxDesc(i), this.rxPhys(i));
    const dma = b.dma;
    b.write32(R.RDBAL, dma.phys(this.rxRing) >>> 0);
    b.write32(R.RDBAH, Math.floor(dma.phys(this.rxRing) / 2 ** 32));
    b.write32(R.RDLEN, this.rxCount * DESC_BYTES);
    b.write32(R.RDH, 0);
    b.write32(R.RDT, this.rxCount - 1);
    // Transmit: empty ring.
    b.write32(R.TDBAL, dma.phys(this.txRing) >>> 0);
    b.write32(R.TDBAH, Math.floor(dma.phys(this.txRing) / 2 ** 32));
    b.write32(R.TDLEN, this.txCount * DESC_BYTES);
    b.write32(R.TDH, 0);
    b.write32(R.TDT, 0);
    b.write32(R.TCTL, R.TCTL_EN | R.TCTL_PSP);
    b.write32(R.RCTL, R.RCTL_EN | R.RCTL_BAM | R.RCTL_SECRC | R.RCTL_BSIZE_2048);
    b.write32(R.ITR, this.itr);
    b.write32(R.CTRL, b.read32(R.CTRL) | R.CTRL_SLU);
    b.write32(R.IMS, INTERRUPTS);
  }

  /** Stop receiving and transmitting, mask everything (the driver is going). */
  shutDown(): void {
    if (this.bus.gone) return;
    this.bus.write32(R.IMC, -1);
    this.bus.write32(R.RCTL, 0);
    this.bus.write32(R.TCTL, 0);
  }

  // ---- receive ---------------------------------------------------------------------------

  /**
   * Hand each received frame to `handle` (a view into the private buffer, valid only
   * during the call), re-arm its buffer at once, and give the device the ring back
   * once for the batch. Returns how many descriptors were done.
   */
  receive(handle: (frame: Uint8Array, len: number) => void, budget: number): number {
    const words = this.words;
    let n = 0;
    while (n < budget) {
      const at = this.rxDesc(this.rxNext);
      // The status word first, read once: DD says the rest of the descriptor is written.
      const status = rxStatus(words, at);
      if ((status & RXD_STAT_DD) === 0) break;
      const len = words[at + 2]! & 0xffff;
      // A frame that spans descriptors (EOP not set) cannot happen with 2 KiB buffers and
      // frames of at most 1518 bytes: whatever the device says, it is not delivered.
      if ((status & RXD_STAT_EOP) !== 0 && len >= 14 && len <= RX_BUFFER) {
        handle(this.rxViews[this.rxNext]!, len);
      } else this.deviceFaults++;
      armRx(words, at, this.rxPhys(this.rxNext));
      this.rxNext = (this.rxNext + 1) % this.rxCount;
      n++;
    }
    if (n > 0) this.bus.write32(R.RDT, (this.rxNext + this.rxCount - 1) % this.rxCount);
    return n;
  }

  // ---- transmit --------------------------------------------------------------------------

  /** Descriptors free for new frames. */
  txFree(): number {
    return this.txCount - 1 - ((this.txTail - this.txClean + this.txCount) % this.txCount);
  }

  /** A free header slot's number, or -1 when all are in use. */
  takeSlot(): number {
    return this.freeCount === 0 ? -1 : this.freeSlots[--this.freeCount]!;
  }

  releaseSlot(slot: number): void {
    this.freeSlots[this.freeCount++] = slot;
  }

  /** A header slot's bytes (HEADER_SLOT of them), and where the device sees them. */
  slotView(slot: number): Uint8Array {
    return this.slotViews[slot]!;
  }

  slotPhys(slot: number): number {
    return this.bus.dma.phys(this.headers + slot * HEADER_SLOT);
  }

  /**
   * One descriptor of a frame being posted (addr is physical). The last one carries
   * EOP and RS and the frame's token, reported back by reapTx when the device is done.
   * The caller checked txFree() for the whole frame.
   */
  postTx(addr: number, len: number, last: boolean, token: number): void {
    const i = this.txTail;
    writeTx(
      this.words,
      this.txDesc(i),
      addr,
      len,
      last ? TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS : TXD_CMD_IFCS,
    );
    this.txToken[i] = last ? token : -1;
    this.txTail = (i + 1) % this.txCount;
  }

  /** Tell the device about the descriptors posted since the last flush: one TDT write per batch. */
  flushTx(): void {
    if (this.txTail === this.txTailWritten) return;
    this.txTailWritten = this.txTail;
    this.bus.write32(R.TDT, this.txTail);
  }

  /** Report each frame the device has sent (the DD of its last descriptor), oldest first. */
  reapTx(done: (token: number) => void): number {
    let n = 0;
    while (this.txClean !== this.txTail) {
      // Find the end of the oldest frame; only its last descriptor has RS (and DD).
      let end = this.txClean;
      while (this.txToken[end] === -1 && end !== this.txTail) end = (end + 1) % this.txCount;
      if (end === this.txTail) break;
      if ((txStatus(this.words, this.txDesc(end)) & TXD_STAT_DD) === 0) break;
      const token = this.txToken[end]!;
      this.txToken[end] = -1;
      this.txClean = (end + 1) % this.txCount;
      done(token);
      n++;
    }
    return n;
  }

  // ---- layout -----------------------------------------------------------------------------

  private rxDesc(i: number): number {
    return (this.rxRing + i * DESC_BYTES) >>> 2;
  }

  private txDesc(i: number): number {
    return (this.txRing + i * DESC_BYTES) >>> 2;
  }

  private rxBuf(i: number): number {
    return this.rxBuffers + i * RX_BUFFER;
  }

  private rxPhys(i: number): number {
    return this.bus.dma.phys(this.rxBuf(i));
  }

  /** Poll a condition on the device, a turn at a time, 2 s at most. */
  private async until(ok: () => boolean, what: string): Promise<void> {
    const end = performance.now() + 2000;
    while (!ok()) {
      if (this.bus.gone) throw new FishnetError('E1000_ERR_DEVICE', `${what}: the device is gone`);
      if (performance.now() > end)
        throw new FishnetError('E1000_ERR_DEVICE', `${what}: the device did not answer`);
      await tick();
    }
  }
}

/** The driver's NIC options, checked (each named in the error), with their defaults. */
export function nicOptions(opts: NicOptions | undefined): Required<NicOptions> {
  const w = 'e1000n nic';
  const o = checkOptions(w, opts, ['rxDescriptors', 'txDescriptors', 'headerSlots', 'itr']);
  return {
    rxDescriptors: ring((o.rxDescriptors as number | undefined) ?? 2048, 'rxDescriptors'),
    txDescriptors: ring((o.txDescriptors as number | undefined) ?? 512, 'txDescriptors'),
    headerSlots: numberOption(w, 'headerSlots', o.headerSlots, { min: 1, max: 65536, integer: true }, 2048),
    // ITR is a 16-bit register of 256 ns units.
    itr: numberOption(w, 'itr', o.itr, { min: 0, max: 0xffff, integer: true }, 0),
  };
}

function ring(n: number, what: string): number {
  if (!(Number.isInteger(n) && n >= 8 && n <= 4096 && n % 8 === 0)) {
    throw new FishnetError('RT_ERR_BAD_SPEC', `${what} must be a multiple of 8 in 8..4096, not ${n}`);
  }
  return n;
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
