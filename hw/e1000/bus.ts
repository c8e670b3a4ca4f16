// The driver's side of the device: what a CPU's loads and stores to BAR0 do on the
// bus, the interrupt line, and the DMA memory the driver was given. The driver actor
// is spawned with an E1000DriverCaps (structured-clonable SharedArrayBuffers) and
// builds an E1000Bus on it; nothing else connects it to the device.
//
// Register side effects happen here, atomically on the shared words, because here is
// where the access happens: reading ICR clears it (Atomics.exchange), IMS and IMC set
// and clear mask bits, ICS raises causes, reading a statistics register clears it.
// Writes that the device must act on record which register group changed (the
// PENDING word) and ring the device's doorbell; the doorbell costs a notify only when
// the device sleeps, so a driver that writes TDT once per batch wakes it at most once
// per batch. RDT is read by the device when frames arrive and wakes nobody.

import { Doorbell } from '../../lib/shm/doorbell.ts';
import { FishnetError } from '../../protocols/errors.ts';
import { PHYS_LIMIT } from './descriptors.ts';
import { PAGE_SIZE } from './phys.ts';
import * as R from './regs.ts';
import {
  PEND_CTRL,
  PEND_EERD,
  PEND_IRQ,
  PEND_MDIC,
  PEND_RX_CONFIG,
  PEND_RX_RING,
  PEND_TX_CONFIG,
  PEND_TX_RING,
  SIG_DOORBELL,
  SIG_GONE,
  SIG_ICR_ACKS,
  SIG_IRQ,
  SIG_MAGIC,
  SIG_PENDING,
  SIGNALS_BYTES,
  SIGNALS_MAGIC,
} from './signals.ts';

/** Everything a driver needs to drive one emulated e1000; structured-clonable. */
export interface E1000DriverCaps {
  /** The register window, BAR0 (128 KiB). */
  readonly regs: SharedArrayBuffer;
  /** The signals page: the interrupt line and the device's doorbell. */
  readonly signals: SharedArrayBuffer;
  /** The driver's DMA memory and the physical address where the device sees it. */
  readonly dma: { readonly base: number; readonly memory: SharedArrayBuffer };
}

export type InterruptWait = 'interrupt' | 'timeout' | 'gone';

const INTERRUPT: Promise<InterruptWait> = Promise.resolve('interrupt');
const GONE: Promise<InterruptWait> = Promise.resolve('gone');

const w = (offset: number): number => offset >>> 2;
const MTA_END = R.MTA + 4 * R.MTA_WORDS;
const RA_END = R.RAL0 + 8 * R.RECEIVE_ADDRESSES;

/** The driver's DMA memory: bytes and words, and the translation to physical addresses. */
export class DmaMemory {
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  readonly size: number;

  constructor(
    readonly base: number,
    readonly memory: SharedArrayBuffer,
  ) {
    this.bytes = new Uint8Array(memory);
    this.words = new Int32Array(memory, 0, memory.byteLength >>> 2);
    this.size = memory.byteLength;
  }

  /** The physical address of byte `offset` (the end, offset = size, is allowed). */
  phys(offset: number): number {
    if (!(Number.isInteger(offset) && offset >= 0 && offset <= this.size)) {
      throw new FishnetError(
        'HW_ERR_BAD_ADDRESS',
        `offset ${offset} outside DMA memory of ${this.size} bytes`,
      );
    }
    return this.base + offset;
  }

  /** The offset of physical range [addr, addr+len) in this memory. */
  offsetOf(addr: number, len = 1): number {
    const off = addr - this.base;
    if (!(Number.isInteger(off) && off >= 0 && Number.isInteger(len) && len >= 0 && off + len <= this.size)) {
      throw new FishnetError(
        'HW_ERR_BAD_ADDRESS',
        `0x${addr.toString(16)}+${len} is not inside DMA memory 0x${this.base.toString(16)}+${this.size}`,
      );
    }
    return off;
  }
}

export class E1000Bus {
  readonly regs: Int32Array;
  readonly signals: Int32Array;
  readonly dma: DmaMemory;
  private readonly doorbell: Doorbell;
  private irqSeen: number;
  /**
   * What the low halves of the 64-bit statistics held when they were read, since their
   * high half was last read. The device keeps adding while the driver reads the two
   * halves one after the other: taking the low half out (exchange) rather than zeroing
   * it at the high read means no byte counted in between is lost.
   */
  private readonly lowTaken = new Float64Array(R.STATS_LOW_HALVES.length);

  constructor(caps: E1000DriverCaps) {
    checkCaps(caps);
    this.regs = new Int32Array(caps.regs);
    this.signals = new Int32Array(caps.signals);
    this.dma = new DmaMemory(caps.dma.base, caps.dma.memory);
    this.doorbell = new Doorbell(this.signals, SIG_DOORBELL);
    this.irqSeen = Atomics.load(this.signals, SIG_IRQ);
  }

  /** A 32-bit register read at a BAR0 byte offset, with the register's read side effects. */
  read32(offset: number): number {
    checkOffset(offset);
    const r = this.regs;
    switch (offset) {
      case R.ICR: {
        const v = Atomics.exchange(r, w(R.ICR), 0);
        Atomics.add(this.signals, SIG_ICR_ACKS, 1);
        return v >>> 0;
      }
      case R.ICS:
      case R.IMC:
        return 0; // write-only
    }
    if (R.isStatistic(offset)) {
      const low = R.STATS_LOW_HALVES.indexOf(offset);
      if (low >= 0) {
        this.lowTaken[low]! += Atomics.exchange(r, w(offset), 0) >>> 0;
        return this.lowTaken[low]! % 2 ** 32;
      }
      const high = R.STATS_HIGH_HALVES.indexOf(offset);
      if (high >= 0) {
        // What the taken low halves carried past 32 bits belongs to the high half.
        const carried = Math.floor(this.lowTaken[high]! / 2 ** 32);
        this.lowTaken[high] = 0;
        return ((Atomics.exchange(r, w(offset), 0) >>> 0) + carried) >>> 0;
      }
      return Atomics.exchange(r, w(offset), 0) >>> 0;
    }
    return Atomics.load(r, w(offset)) >>> 0;
  }

  /** A 32-bit register write at a BAR0 byte offset, with the register's write side effects. */
  write32(offset: number, value: number): void {
    checkOffset(offset);
    if (!(Number.isInteger(value) && value >= -0x8000_0000 && value <= 0xffff_ffff)) {
      throw new FishnetError(
        'HW_ERR_BAD_REGISTER',
        `value ${value} written at 0x${offset.toString(16)} is not a 32-bit integer`,
      );
    }
    const r = this.regs;
    const v = value | 0;
    switch (offset) {
      case R.ICR: // write 1 to clear; causes left set assert the line again
        Atomics.and(r, w(R.ICR), ~v);
        Atomics.add(this.signals, SIG_ICR_ACKS, 1);
        this.changed(PEND_IRQ, true);
        return;
      case R.ICS:
        Atomics.or(r, w(R.ICR), v & R.INT_ALL);
        this.changed(PEND_IRQ, true);
        return;
      case R.IMS:
        Atomics.or(r, w(R.IMS), v & R.INT_ALL);
        this.changed(PEND_IRQ, true);
        return;
      case R.IMC:
        Atomics.and(r, w(R.IMS), ~v);
        return;
      case R.STATUS:
        return; // read-only
      case R.EERD:
        Atomics.store(r, w(R.EERD), v & (R.EERD_START | R.EERD_ADDR_MASK));
        this.changed(PEND_EERD, true);
        return;
      case R.CTRL:
        Atomics.store(r, w(R.CTRL), v);
        this.changed(PEND_CTRL, true);
        return;
      case R.RCTL:
        Atomics.store(r, w(R.RCTL), v);
        this.changed(PEND_RX_CONFIG, false);
        return;
      case R.TCTL:
        Atomics.store(r, w(R.TCTL), v);
        this.changed(PEND_TX_CONFIG, true);
        return;
      case R.RDBAL:
      case R.RDBAH:
      case R.RDLEN:
      case R.RDH:
        Atomics.store(r, w(offset), v);
        this.changed(PEND_RX_RING, false);
        return;
      case R.TDBAL:
      case R.TDBAH:
      case R.TDLEN:
      case R.TDH:
        Atomics.store(r, w(offset), v);
        this.changed(PEND_TX_RING, false);
        return;
      case R.TDT:
        Atomics.store(r, w(R.TDT), v);
        this.doorbell.ring();
        return;
      case R.MDIC:
        Atomics.store(r, w(R.MDIC), v & ~(R.MDIC_READY | R.MDIC_ERROR));
        this.changed(PEND_MDIC, true);
        return;
      case R.ITR:
        Atomics.store(r, w(R.ITR), v);
        this.changed(PEND_IRQ, true);
        return;
    }
    if (R.isStatistic(offset)) return; // read-only
    Atomics.store(r, w(offset), v);
    if ((offset >= R.MTA && offset < MTA_END) || (offset >= R.RAL0 && offset < RA_END)) {
      this.changed(PEND_RX_CONFIG, false);
    }
  }

  private changed(group: number, wake: boolean): void {
    Atomics.or(this.signals, SIG_PENDING, group);
    if (wake) this.doorbell.ring();
  }

  /** The interrupt line has been asserted since the last waitInterrupt() or interruptPending(). */
  interruptPending(): boolean {
    const c = Atomics.load(this.signals, SIG_IRQ);
    if (c === this.irqSeen) return false;
    this.irqSeen = c;
    return true;
  }

  /**
   * Resolves when the device asserts its interrupt line: at once when it was asserted
   * since the last call (no wait), 'timeout' after `timeoutMs`, 'gone' when the device
   * has been shut down. The driver then reads ICR, which acknowledges.
   */
  waitInterrupt(timeoutMs = Number.POSITIVE_INFINITY): Promise<InterruptWait> {
    if (this.interruptPending()) return INTERRUPT;
    if (this.gone) return GONE;
    return this.sleep(performance.now() + timeoutMs);
  }

  private async sleep(until: number): Promise<InterruptWait> {
    // A pending Atomics.waitAsync does not keep Node's event loop alive, and its own
    // timeout runs on an unref'd timer: a ref'd timer keeps the program (or the
    // actor's thread) alive while its driver waits for the device, and ends the wait.
    let timedOut = false;
    let wake: (() => void) | undefined;
    const left = until - performance.now();
    const timer =
      left === Number.POSITIVE_INFINITY
        ? setInterval(() => {}, 2 ** 31 - 1)
        : setTimeout(() => {
            timedOut = true;
            wake?.();
          }, left);
    const timeout = new Promise<void>((resolve) => {
      wake = resolve;
    });
    try {
      for (;;) {
        if (timedOut) return 'timeout';
        const r = Atomics.waitAsync(
          this.signals,
          SIG_IRQ,
          this.irqSeen,
          Math.max(0, until - performance.now()),
        );
        if (r.async) await Promise.race([r.value, timeout]);
        if (this.interruptPending()) return 'interrupt';
        if (this.gone) return 'gone';
        if (until - performance.now() <= 0) return 'timeout';
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** True once the device is shut down (registers stay readable, nothing acts on them). */
  get gone(): boolean {
    return Atomics.load(this.signals, SIG_GONE) !== 0;
  }
}

function checkOffset(offset: number): void {
  if (!(Number.isInteger(offset) && offset >= 0 && offset < R.BAR0_BYTES && (offset & 3) === 0)) {
    throw new FishnetError(
      'HW_ERR_BAD_REGISTER',
      `offset ${typeof offset === 'number' ? `0x${offset.toString(16)}` : String(offset)}: registers are 32-bit words at 0..0x${(R.BAR0_BYTES - 4).toString(16)}`,
    );
  }
}

/** Check that `caps` are what E1000Nic hands out (anything structured-cloned arrives as plain data). */
export function checkCaps(caps: E1000DriverCaps): void {
  const bad = (what: string) => {
    throw new FishnetError('HW_ERR_BAD_CAPS', what);
  };
  if (typeof caps !== 'object' || caps === null) bad('caps must be an object');
  if (!(caps.regs instanceof SharedArrayBuffer) || caps.regs.byteLength !== R.BAR0_BYTES) {
    bad(`caps.regs must be a SharedArrayBuffer of ${R.BAR0_BYTES} bytes`);
  }
  if (!(caps.signals instanceof SharedArrayBuffer) || caps.signals.byteLength !== SIGNALS_BYTES) {
    bad(`caps.signals must be a SharedArrayBuffer of ${SIGNALS_BYTES} bytes`);
  } else if (Atomics.load(new Int32Array(caps.signals), SIG_MAGIC) !== SIGNALS_MAGIC) {
    bad('caps.signals is not an e1000 signals page');
  }
  const dma = caps.dma as E1000DriverCaps['dma'] | undefined;
  if (typeof dma !== 'object' || dma === null) bad('caps.dma must be { base, memory }');
  else {
    if (!(dma.memory instanceof SharedArrayBuffer) || dma.memory.byteLength === 0) {
      bad('caps.dma.memory must be a non-empty SharedArrayBuffer');
    }
    if (!(Number.isSafeInteger(dma.base) && dma.base >= 0 && dma.base % PAGE_SIZE === 0)) {
      bad(`caps.dma.base ${String(dma.base)} must be a page-aligned physical address`);
    }
    if (dma.base + dma.memory.byteLength > PHYS_LIMIT) bad('caps.dma lies beyond 2^53');
  }
}
