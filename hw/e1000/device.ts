// The e1000 (8254x) device model: what the silicon does, as a plain class that the
// device thread (thread.ts) or a test drives synchronously. Time comes from an
// injected clock, so that a test decides when an interrupt throttling interval ends.
//
// The driver reaches the device only through the register window and the signals
// page (bus.ts writes them and says which register groups changed); the device
// reaches memory only through the physical map (phys.ts). Everything it reads from
// shared memory - descriptors, tail registers, register values - is read once into a
// local, checked, and that local used.
//
// Decisions where the 8254x leaves a choice, or where the model departs from it:
// - The link carries frames without FCS. Received frames are delivered as if
//   RCTL.SECRC were set (no FCS in the buffer) whatever its value; the byte
//   statistics (GORC, GOTC, TOR, TOT) count 4 FCS bytes per frame, as the 8254x does.
// - A transmit frame whose EOP descriptor has CMD.IFCS clear carries its own FCS in
//   its last 4 bytes: the device checks it and strips it; a wrong one is dropped
//   (txBadFcs), as a peer would drop it for a CRC error.
// - A full receive ring drops the frame at once (MPC and RNBC count it, RXO is
//   raised): there is no packet buffer that holds frames until descriptors come.
// - DMA errors. Receive: when a buffer of the frame lies outside physical memory, no
//   byte is written; the frame's descriptors are written back with DD (EOP on the
//   last), length 0 and errors.RXE, and consumed, so that the driver sees the error
//   and the ring moves on. When a receive descriptor itself lies outside memory
//   nothing can be written back: the frame is dropped and the ring stays put.
//   Transmit: a buffer outside memory drops the frame being gathered; its
//   descriptors are consumed and written back (RS) as usual. A transmit descriptor
//   outside memory stalls the transmitter at that descriptor until the driver moves
//   the ring (TDBAL/TDLEN/TDH), resets, or memory is mapped there.
// - Bad register values: RDLEN/TDLEN low bits are ignored (the length is
//   RDLEN & 0xFFF80), RDBAL/TDBAL low 4 bits are ignored, a head register beyond the
//   ring reads as 0, a tail beyond the ring is ignored (receive: the ring counts as
//   full; transmit: nothing is sent) until it is written again. Each is counted in
//   programmingErrors and logged once per kind.
// - Address filter: exact matches (RAL/RAH with AV, any address), then unicast
//   promiscuous (UPE); group addresses: multicast promiscuous (MPE, broadcast
//   included), broadcast with BAM, else the multicast table. TPR/TOR count every frame
//   the enabled receiver sees, filtered ones included; GPRC and the rest count frames
//   written into the ring. RDH is published once per turn of the device's loop
//   (drivers look at DD); statistics registers reach the window once per turn too,
//   stick at 0xFFFFFFFF, and a 64-bit pair clears when its high half is read.
// - Transmit waits (descriptors stay) while TCTL.EN is clear or the link is down.
//   CMD.IFCS, IC, VLE and CSO/CSS are taken from the EOP descriptor. Disabling the
//   transmitter or moving its ring mid-frame drops the partial frame (txAborted); the
//   descriptors after it start a frame of their own. A frame the host end has no
//   room for was still transmitted (GPTC counts it) and is lost on the wire
//   (wireDropped).
// - Not modelled: receive/transmit interrupt delay timers (RDTR, RADV, TIDV: causes
//   are raised at once; ITR moderates), extended (DEXT) transmit descriptors and VLAN
//   insertion (such frames are dropped as txUnsupported), VLAN filtering, loopback
//   modes, flow control, the EEPROM's bit-banged interface (EERD works); the PHY
//   behind MDIC is a register file whose status follows CTRL.SLU. Frames of
//   14..59 bytes from the link are received as they are (the sender skipped padding).

import type { Mac } from '../../lib/net/addr.ts';
import { internetChecksum } from '../../lib/net/checksum.ts';
import { MAX_FRAME, MIN_FRAME } from '../../lib/phy/port.ts';
import { copyBytes, wordsOf } from '../../lib/shm/copy.ts';
import {
  DESC_BYTES,
  joinPhys,
  RXD_ERR_RXE,
  RXD_STAT_DD,
  RXD_STAT_EOP,
  TXD_CMD_DEXT,
  TXD_CMD_EOP,
  TXD_CMD_IC,
  TXD_CMD_IFCS,
  TXD_CMD_RS,
  TXD_CMD_VLE,
  TxDescriptor,
  writeBackRx,
  writeBackTx,
} from './descriptors.ts';
import { EEPROM_BLANK, EEPROM_WORDS, eepromImage, macOctets } from './eeprom.ts';
import { fcsValid } from './fcs.ts';
import type { PhysMap } from './phys.ts';
import * as R from './regs.ts';
import {
  PEND_CTRL,
  PEND_EERD,
  PEND_MDIC,
  PEND_RX_CONFIG,
  PEND_RX_RING,
  PEND_TX_CONFIG,
  PEND_TX_RING,
  SIG_ICR_ACKS,
  SIG_IRQ,
  SIG_PENDING,
  SIGNALS_BYTES,
} from './signals.ts';
import { E1000Counters } from './stats.ts';

/**
 * Where transmitted frames go: the link's next free frame, which the device gathers a
 * frame into in place (lib/shm/frames.ts's writer is one). `bytes` and `words` view
 * the link's whole memory from byte 0.
 */
export interface LinkSink {
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  /** Byte offset of room for one frame (MAX_FRAME + 4 bytes), or -1 when the link has none. */
  reserve(): number;
  /** The frame at the reserved offset is `length` bytes: send it. */
  commit(length: number): void;
}

export interface DeviceOptions {
  /** The register window (BAR0, 128 KiB). */
  regs: SharedArrayBuffer;
  /** The signals page (signals.ts). */
  signals: SharedArrayBuffer;
  phys: PhysMap;
  /** The MAC in the EEPROM. */
  mac: Mac;
  /** Monotonic time in nanoseconds. */
  clock: () => number;
  link: LinkSink;
  /** Problems worth a human's attention (each kind once). */
  log?: (kind: string, message: string) => void;
}

/** Descriptors a transmit turn processes at most (so that receive is not starved). */
export const TX_BUDGET = 256;
/** Descriptors one received frame can take at most (1518 bytes in 256-byte buffers). */
const MAX_RX_SPAN = Math.ceil(MAX_FRAME / 256);
/** The transmit gather buffer: a full frame plus an FCS supplied by the driver. */
const TX_CAP = MAX_FRAME + 4;
/** Ethernet's minimum frame without FCS (PSP pads to it). */
const MIN_PADDED = 60;
const FCS_BYTES = 4;
const STATS_WORDS = (R.STATS_LAST - R.STATS_FIRST) / 4 + 1;

// Address filter verdicts.
const REJECT = 0;
const UNICAST = 1;
const MULTICAST = 2;
const BROADCAST = 3;

const w = (offset: number): number => offset >>> 2;
/** Which statistics words are the low halves of 64-bit pairs. */
const LOW_HALF = Uint8Array.from({ length: STATS_WORDS }, (_, i) =>
  R.STATS_LOW_HALVES.includes(R.STATS_FIRST + i * 4) ? 1 : 0,
);

export class E1000Device {
  readonly regs: Int32Array;
  readonly sig: Int32Array;
  readonly counters = new E1000Counters();
  private readonly phys: PhysMap;
  private readonly clock: () => number;
  private readonly link: LinkSink;
  private readonly log: (kind: string, message: string) => void;
  private readonly logged = new Set<string>();
  private readonly eeprom: Uint16Array;

  // Latched receive configuration.
  private rctl = 0;
  private bufferSize = 2048;
  private readonly ralLow = new Int32Array(R.RECEIVE_ADDRESSES);
  private readonly ralHigh = new Int32Array(R.RECEIVE_ADDRESSES);
  private addresses = 0;
  private readonly mta = new Int32Array(R.MTA_WORDS);
  private rxBase = 0;
  private rxCount = 0;
  private rxHead = 0;
  private badRdt = -1;

  // Latched transmit configuration and the frame being gathered.
  private tctl = 0;
  private txBase = 0;
  private txCount = 0;
  private txHead = 0;
  private badTdt = -1;
  /** The descriptor index where a descriptor fetch failed, or -1. */
  private txStalledAt = -1;
  private readonly txd = new TxDescriptor();
  /** Where the frame being gathered goes: the link's reserved room, or the scratch buffer when it has none. */
  private frameBytes: Uint8Array;
  private frameWords: Int32Array;
  private frameAt = 0;
  private frameToLink = false;
  private readonly scratch = new Uint8Array((TX_CAP + 7) & ~3);
  private readonly scratchWords = new Int32Array(this.scratch.buffer);
  private frameLength = 0;
  /** Descriptors of the frame being gathered (0: none). */
  private frameDescriptors = 0;
  /** Why the frame being gathered will be dropped (a counter name), or undefined. */
  private frameDrop: keyof E1000Counters | undefined;

  private linkUp = false;
  /** The PHY's writable registers (MDIC). */
  private readonly phy = new Uint16Array(32);

  // Interrupts.
  private causes = 0;
  private asserted = false;
  private lastAssert = Number.NEGATIVE_INFINITY;
  private acksSeen = 0;
  private deadline = Number.POSITIVE_INFINITY;

  // Statistics registers accumulate here and reach the register window once per turn.
  private readonly stats = new Float64Array(STATS_WORDS);
  private statsDirty = false;

  // Per-frame scratch for the receive path (no allocation per frame).
  private readonly rxDescWords: Int32Array[] = new Array(MAX_RX_SPAN + 2).fill(new Int32Array(0));
  private readonly rxDescAt = new Int32Array(MAX_RX_SPAN + 2);
  private readonly rxBufAddr = new Float64Array(MAX_RX_SPAN + 2);
  private readonly rxBufBytes: Uint8Array[] = new Array(MAX_RX_SPAN + 2).fill(new Uint8Array(0));
  private readonly rxBufWords: Int32Array[] = new Array(MAX_RX_SPAN + 2).fill(new Int32Array(0));
  /** The memory the last multi-buffer frame came from, as bytes and words (cached per buffer). */
  private rxSource: ArrayBufferLike | undefined;
  private rxSourceBytes: Uint8Array = new Uint8Array(0);
  private rxSourceWords: Int32Array = new Int32Array(0);
  /** RDH moved this turn: published at the turn's end (drivers look at DD, not RDH). */
  private rxHeadDirty = false;
  /** The RDH value last published, to tell a driver's RDH write from our own. */
  private rxHeadPublished = 0;
  private readonly rxBufOffset = new Float64Array(MAX_RX_SPAN + 2);

  constructor(opts: DeviceOptions) {
    if (!(opts.regs instanceof SharedArrayBuffer) || opts.regs.byteLength !== R.BAR0_BYTES) {
      throw new RangeError(`the register window is a SharedArrayBuffer of ${R.BAR0_BYTES} bytes`);
    }
    if (!(opts.signals instanceof SharedArrayBuffer) || opts.signals.byteLength !== SIGNALS_BYTES) {
      throw new RangeError(`the signals page is a SharedArrayBuffer of ${SIGNALS_BYTES} bytes`);
    }
    this.regs = new Int32Array(opts.regs);
    this.sig = new Int32Array(opts.signals);
    this.phys = opts.phys;
    this.clock = opts.clock;
    this.link = opts.link;
    this.log = opts.log ?? (() => {});
    this.eeprom = eepromImage(opts.mac);
    this.frameBytes = this.scratch;
    this.frameWords = this.scratchWords;
    this.acksSeen = Atomics.load(this.sig, SIG_ICR_ACKS);
    this.reset();
    this.counters.resets = 0; // power-up is not a reset anyone asked for
  }

  // ---------------------------------------------------------------- reset, link, EEPROM

  /** CTRL.RST: registers to their defaults, rings off, RAL0/RAH0 from the EEPROM. */
  reset(): void {
    const r = this.regs;
    if (this.frameDescriptors > 0) this.counters.txAborted++;
    r.fill(0);
    for (const [offset, value] of R.RESET_VALUES) Atomics.store(r, w(offset), value);
    const o = macOctets(this.macFromEeprom());
    Atomics.store(r, w(R.RAL0), o[0]! | (o[1]! << 8) | (o[2]! << 16) | (o[3]! << 24));
    Atomics.store(r, w(R.RAH0), o[4]! | (o[5]! << 8) | R.RAH_AV);
    this.rctl = 0;
    this.bufferSize = 2048;
    this.mta.fill(0);
    this.rxBase = this.rxCount = this.rxHead = this.rxHeadPublished = 0;
    this.rxHeadDirty = false;
    this.badRdt = -1;
    this.tctl = 0;
    this.txBase = this.txCount = this.txHead = 0;
    this.badTdt = -1;
    this.txStalledAt = -1;
    this.dropFrame();
    this.linkUp = false;
    this.phy.fill(0);
    this.phy[R.PHY_CTRL] = 0x1140; // autonegotiation on, full duplex, 1000 Mb/s selected
    this.phy[R.PHY_AUTONEG_ADV] = 0x01e1;
    this.phy[R.PHY_1000T_CTRL] = 0x0300;
    this.causes = 0;
    this.asserted = false;
    this.lastAssert = Number.NEGATIVE_INFINITY;
    this.deadline = Number.POSITIVE_INFINITY;
    this.stats.fill(0);
    this.statsDirty = false;
    this.latchAddresses();
    this.counters.resets++;
  }

  private macFromEeprom(): Mac {
    const e = this.eeprom;
    return [e[0]! & 0xff, e[0]! >>> 8, e[1]! & 0xff, e[1]! >>> 8, e[2]! & 0xff, e[2]! >>> 8].reduce(
      (v, x) => v * 256 + x,
      0,
    ) as Mac;
  }

  /** The link as the PHY reports it (CTRL.SLU set, and a cable: the host end is always there). */
  get isLinkUp(): boolean {
    return this.linkUp;
  }

  private setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    if (up) Atomics.or(this.regs, w(R.STATUS), R.STATUS_LU);
    else Atomics.and(this.regs, w(R.STATUS), ~R.STATUS_LU);
    this.causes |= R.INT_LSC;
    this.counters.linkChanges++;
  }

  private eepromRead(): void {
    const v = Atomics.load(this.regs, w(R.EERD));
    if ((v & R.EERD_START) === 0) return;
    const addr = (v & R.EERD_ADDR_MASK) >>> R.EERD_ADDR_SHIFT;
    const data = addr < EEPROM_WORDS ? this.eeprom[addr]! : EEPROM_BLANK;
    Atomics.store(
      this.regs,
      w(R.EERD),
      R.EERD_DONE | (addr << R.EERD_ADDR_SHIFT) | (data << R.EERD_DATA_SHIFT),
    );
  }

  /**
   * MDIC: read or write a register of the PHY (an 88E1011-like one at address 1). The
   * PHY's status reports the link as CTRL.SLU set it; its reset bit self-clears. Done
   * sets READY (and raises MDAC when the driver asked for an interrupt); a PHY address
   * with no PHY sets ERROR.
   */
  private phyAccess(): void {
    const v = Atomics.load(this.regs, w(R.MDIC));
    const reg = (v >>> R.MDIC_REG_SHIFT) & 0x1f;
    const phy = (v >>> R.MDIC_PHY_SHIFT) & 0x1f;
    const op = v & (R.MDIC_OP_READ | R.MDIC_OP_WRITE);
    if (op !== R.MDIC_OP_READ && op !== R.MDIC_OP_WRITE) return; // not a command
    let out = v & ~R.MDIC_DATA_MASK;
    if (phy !== R.PHY_ADDRESS) out |= R.MDIC_ERROR | (v & R.MDIC_DATA_MASK);
    else if (op === R.MDIC_OP_WRITE) {
      const data = v & R.MDIC_DATA_MASK;
      if (reg === R.PHY_CTRL)
        this.phy[reg] = data & ~R.PHY_CTRL_RESET; // reset completes at once
      else if (reg !== R.PHY_STATUS && reg !== R.PHY_ID1 && reg !== R.PHY_ID2) this.phy[reg] = data;
      out |= data;
    } else out |= this.phyRead(reg);
    Atomics.store(this.regs, w(R.MDIC), out | R.MDIC_READY);
    if (v & R.MDIC_INT_EN) this.causes |= R.INT_MDAC;
  }

  private phyRead(reg: number): number {
    switch (reg) {
      case R.PHY_STATUS:
        return 0x7949 | (this.linkUp ? R.PHY_STATUS_LINK | R.PHY_STATUS_AUTONEG_DONE : 0);
      case R.PHY_ID1:
        return 0x0141;
      case R.PHY_ID2:
        return 0x0c20;
      case R.PHY_LP_ABILITY:
        return this.linkUp ? 0x45e1 : 0;
      case R.PHY_1000T_STATUS:
        return this.linkUp ? 0x3c00 : 0;
      default:
        return this.phy[reg]!;
    }
  }

  // ---------------------------------------------------------------- register writes

  /** Latch what the driver wrote since the last look. Returns 1 if anything changed. */
  applyWrites(): number {
    if (Atomics.load(this.sig, SIG_PENDING) === 0) return 0; // a load: cheaper than the exchange
    const p = Atomics.exchange(this.sig, SIG_PENDING, 0);
    if (p === 0) return 0;
    if (p & PEND_CTRL) {
      const ctrl = Atomics.load(this.regs, w(R.CTRL));
      if (ctrl & R.CTRL_RST) {
        this.reset();
        return 1; // what else was pending was written before or during the reset: gone with it
      }
      this.setLink((ctrl & R.CTRL_SLU) !== 0);
    }
    if (p & PEND_EERD) this.eepromRead();
    if (p & PEND_MDIC) this.phyAccess();
    if (p & PEND_RX_CONFIG) this.latchReceive();
    if (p & PEND_RX_RING) this.latchRxRing();
    if (p & PEND_TX_CONFIG) this.latchTransmit();
    if (p & PEND_TX_RING) this.latchTxRing();
    return 1;
  }

  private latchReceive(): void {
    const rctl = Atomics.load(this.regs, w(R.RCTL));
    this.rctl = rctl;
    let size = R.rxBufferSize(rctl);
    if (size === 0) {
      this.programmingError('rctl-bsize', 'RCTL.BSEX with BSIZE=00 is reserved: buffers taken as 2048 bytes');
      size = 2048;
    }
    this.bufferSize = size;
    if (rctl & R.RCTL_LBM_MASK) this.notice('rctl-lbm', 'RCTL.LBM: loopback modes are not modelled, ignored');
    if (rctl & R.RCTL_VFE) this.notice('rctl-vfe', 'RCTL.VFE: VLAN filtering is not modelled, ignored');
    this.latchAddresses();
    for (let i = 0; i < R.MTA_WORDS; i++) this.mta[i] = Atomics.load(this.regs, w(R.MTA) + i);
  }

  private latchAddresses(): void {
    let n = 0;
    for (let i = 0; i < R.RECEIVE_ADDRESSES; i++) {
      const high = Atomics.load(this.regs, w(R.rah(i)));
      if ((high & R.RAH_AV) === 0) continue;
      this.ralLow[n] = Atomics.load(this.regs, w(R.ral(i)));
      this.ralHigh[n] = high & 0xffff;
      n++;
    }
    this.addresses = n;
  }

  /** Read a ring's base and length registers once each; returns [base, count] via fields. */
  private ringGeometry(bal: number, bah: number, len: number, what: 'rx' | 'tx'): [number, number] {
    const lo = Atomics.load(this.regs, w(bal));
    const hi = Atomics.load(this.regs, w(bah));
    const length = Atomics.load(this.regs, w(len));
    const BAL = what === 'rx' ? 'RDBAL' : 'TDBAL';
    const LEN = what === 'rx' ? 'RDLEN' : 'TDLEN';
    if (lo & 0xf) {
      this.programmingError(
        `${what}-base-align`,
        `${BAL} low 4 bits are ignored (rings are 16-byte aligned)`,
      );
    }
    if (length & ~R.DLEN_MASK) {
      this.programmingError(
        `${what}-len`,
        `${LEN}=0x${(length >>> 0).toString(16)} is not a multiple of 128 below 1 MiB: taken as 0x${(length & R.DLEN_MASK).toString(16)}`,
      );
    }
    const base = joinPhys(lo & R.DBAL_MASK, hi);
    return [base, (length & R.DLEN_MASK) / DESC_BYTES];
  }

  private latchRxRing(): void {
    const [base, count] = this.ringGeometry(R.RDBAL, R.RDBAH, R.RDLEN, 'rx');
    // RDH as the driver left it; if it holds what we last published, our own unpublished
    // head is the truth (the driver wrote other ring registers mid-turn).
    if (this.rxHeadDirty && Atomics.load(this.regs, w(R.RDH)) === this.rxHeadPublished) this.publishRxHead();
    this.rxHeadDirty = false;
    this.rxBase = base;
    this.rxCount = count;
    this.rxHead = this.checkedHead(R.RDH, count, 'rx-head', 'RDH');
    this.rxHeadPublished = this.rxHead;
    this.badRdt = -1;
  }

  private publishRxHead(): void {
    this.rxHeadDirty = false;
    this.rxHeadPublished = this.rxHead;
    Atomics.store(this.regs, w(R.RDH), this.rxHead);
  }

  private latchTransmit(): void {
    const tctl = Atomics.load(this.regs, w(R.TCTL));
    if ((tctl & R.TCTL_EN) === 0 && this.frameDescriptors > 0) {
      this.counters.txAborted++;
      this.dropFrame();
    }
    this.tctl = tctl;
  }

  private latchTxRing(): void {
    const [base, count] = this.ringGeometry(R.TDBAL, R.TDBAH, R.TDLEN, 'tx');
    if (this.frameDescriptors > 0) {
      this.counters.txAborted++;
      this.dropFrame();
    }
    this.txBase = base;
    this.txCount = count;
    this.txHead = this.checkedHead(R.TDH, count, 'tx-head', 'TDH');
    this.badTdt = -1;
    this.txStalledAt = -1;
  }

  private checkedHead(reg: number, count: number, kind: string, name: string): number {
    const head = Atomics.load(this.regs, w(reg)) >>> 0;
    if (head === 0 || head < count) return head;
    this.programmingError(kind, `${name}=${head} lies beyond the ring of ${count} descriptors: taken as 0`);
    Atomics.store(this.regs, w(reg), 0);
    return 0;
  }

  /** The tail register, read once; -1 when it lies beyond the ring (counted once per value written). */
  private checkedTail(reg: number, count: number, what: 'rx' | 'tx'): number {
    const tail = Atomics.load(this.regs, w(reg)) >>> 0;
    if (tail < count) return tail;
    const seen = what === 'rx' ? this.badRdt : this.badTdt;
    if (seen !== tail) {
      if (what === 'rx') this.badRdt = tail;
      else this.badTdt = tail;
      const name = what === 'rx' ? 'RDT' : 'TDT';
      this.programmingError(
        `${what}-tail`,
        count === 0
          ? `${name} written while the ring has no descriptors (${name === 'RDT' ? 'RDLEN' : 'TDLEN'}=0)`
          : `${name}=${tail} lies beyond the ring of ${count} descriptors: ignored until written again`,
      );
    }
    return -1;
  }

  // ---------------------------------------------------------------- receive

  /**
   * A frame arrives from the link (no FCS): `frame` is exactly its bytes. Returns true
   * when it was written into the receive ring.
   */
  receive(frame: Uint8Array): boolean {
    return this.receiveFrom(frame, 0, frame.length, frame);
  }

  /**
   * The same for `length` bytes of `src` from `offset`, with no view made: the link's
   * queue hands small frames so, whatever their lengths. (A whole frame's view copies
   * faster by TypedArray.set, worth it for big ones, whose views the queue keeps per slot.)
   */
  receiveAt(src: Uint8Array, offset: number, length: number): boolean {
    return this.receiveFrom(src, offset, length, undefined);
  }

  private receiveFrom(
    src: Uint8Array,
    offset: number,
    length: number,
    view: Uint8Array | undefined,
  ): boolean {
    if (Atomics.load(this.sig, SIG_PENDING) !== 0) this.applyWrites();
    const c = this.counters;
    if (!(length >= MIN_FRAME && length <= MAX_FRAME)) {
      c.rxBadLength++;
      return false;
    }
    if (!this.linkUp || (this.rctl & R.RCTL_EN) === 0) {
      c.rxOff++;
      return false;
    }
    this.count(R.TPR, 1);
    this.count(R.TORL, length + FCS_BYTES);
    const kind = this.classify(src, offset);
    if (kind === REJECT) {
      c.filtered++;
      return false;
    }
    const count = this.rxCount;
    const size = this.bufferSize;
    const need = Math.ceil(length / size);
    const tail = count === 0 ? -1 : this.checkedTail(R.RDT, count, 'rx');
    const head = this.rxHead;
    const free = tail < 0 ? 0 : (tail - head + count) % count;
    if (free < need) {
      c.missed++;
      this.count(R.MPC, 1);
      this.count(R.RNBC, 1);
      this.causes |= R.INT_RXO;
      return false;
    }

    // Fetch the descriptors (each read once) and find every buffer before writing any byte.
    let bufferFault = false;
    for (let k = 0; k < need; k++) {
      const index = (head + k) % count;
      const d = this.rxBase < 0 ? undefined : this.phys.resolve(this.rxBase + index * DESC_BYTES, DESC_BYTES);
      if (d === undefined) {
        this.dmaError(
          'rx-descriptor',
          `receive descriptor ${index} at 0x${(this.rxBase + index * DESC_BYTES).toString(16)} lies outside physical memory: frame dropped, ring stays`,
        );
        c.rxDmaDropped++;
        return false;
      }
      const words = d.words;
      const at = d.offset >>> 2;
      this.rxDescWords[k] = words;
      this.rxDescAt[k] = at;
      this.rxBufAddr[k] = joinPhys(words[at]!, words[at + 1]!);
    }
    for (let k = 0; k < need && !bufferFault; k++) {
      const chunk = k === need - 1 ? length - k * size : size;
      const b = this.phys.resolve(this.rxBufAddr[k]!, chunk);
      if (b === undefined) bufferFault = true;
      else {
        this.rxBufBytes[k] = b.bytes;
        this.rxBufWords[k] = b.words;
        this.rxBufOffset[k] = b.offset;
      }
    }
    if (bufferFault) {
      this.dmaError(
        'rx-buffer',
        'a receive buffer lies outside physical memory: frame dropped, RXE written back',
      );
      c.rxDmaDropped++;
      for (let k = 0; k < need; k++) {
        writeBackRx(
          this.rxDescWords[k]!,
          this.rxDescAt[k]!,
          0,
          RXD_STAT_DD | (k === need - 1 ? RXD_STAT_EOP : 0),
          RXD_ERR_RXE,
        );
      }
      this.advanceRx(need, free, count);
      return false;
    }
    if (need === 1 && view !== undefined) this.rxBufBytes[0]!.set(view, this.rxBufOffset[0]!);
    else this.scatter(src, offset, length, need, size);
    for (let k = 0; k < need; k++) {
      const chunk = k === need - 1 ? length - k * size : size;
      writeBackRx(
        this.rxDescWords[k]!,
        this.rxDescAt[k]!,
        chunk,
        RXD_STAT_DD | (k === need - 1 ? RXD_STAT_EOP : 0),
        0,
      );
    }
    this.advanceRx(need, free, count);
    this.count(R.GPRC, 1);
    this.count(R.GORCL, length + FCS_BYTES);
    this.count(sizeBin(R.PRC64, length + FCS_BYTES), 1);
    if (kind === BROADCAST) this.count(R.BPRC, 1);
    else if (kind === MULTICAST) this.count(R.MPRC, 1);
    c.framesIn++;
    c.bytesIn += length;
    return true;
  }

  /** Copy a frame into its buffers, each buffer's share (no view per frame or chunk). */
  private scatter(from: Uint8Array, offset: number, length: number, need: number, size: number): void {
    if (from.buffer !== this.rxSource) {
      this.rxSource = from.buffer;
      this.rxSourceBytes = new Uint8Array(from.buffer);
      this.rxSourceWords = wordsOf(from.buffer);
    }
    const base = from.byteOffset + offset;
    const src = this.rxSourceBytes;
    for (let k = 0; k < need; k++) {
      const chunk = k === need - 1 ? length - k * size : size;
      const b = this.rxBufBytes[k]!;
      copyBytes(
        b,
        this.rxBufWords[k]!,
        this.rxBufOffset[k]!,
        src,
        this.rxSourceWords,
        base + k * size,
        chunk,
      );
    }
  }

  private advanceRx(used: number, free: number, count: number): void {
    this.rxHead = (this.rxHead + used) % count;
    this.rxHeadDirty = true;
    this.causes |= R.INT_RXT0;
    // RXDMT0 when the free descriptors fall to RCTL.RDMTS's fraction of the ring (1/2, 1/4, 1/8).
    const shift = Math.min(3, 1 + ((this.rctl & R.RCTL_RDMTS_MASK) >>> R.RCTL_RDMTS_SHIFT));
    const threshold = count >>> shift;
    if (free > threshold && free - used <= threshold) this.causes |= R.INT_RXDMT0;
  }

  /** The address filter: which kind of address, or REJECT. */
  private classify(b: Uint8Array, off: number): number {
    const low = b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24);
    const high = b[off + 4]! | (b[off + 5]! << 8);
    const group = (b[off]! & 1) !== 0;
    const broadcast = low === -1 && high === 0xffff;
    const kind = broadcast ? BROADCAST : group ? MULTICAST : UNICAST;
    const rctl = this.rctl;
    for (let i = 0; i < this.addresses; i++) {
      if (this.ralLow[i] === low && this.ralHigh[i] === high) return kind;
    }
    if (!group) return rctl & R.RCTL_UPE ? UNICAST : REJECT;
    if (rctl & R.RCTL_MPE) return kind;
    if (broadcast) return rctl & R.RCTL_BAM ? BROADCAST : REJECT;
    // The multicast table: 12 bits of the address chosen by RCTL.MO index 4096 bits.
    const a4 = b[off + 4]!;
    const a5 = b[off + 5]!;
    let hash: number;
    switch ((rctl & R.RCTL_MO_MASK) >>> R.RCTL_MO_SHIFT) {
      case 0:
        hash = (a4 >>> 4) | (a5 << 4);
        break;
      case 1:
        hash = (a4 >>> 3) | (a5 << 5);
        break;
      case 2:
        hash = (a4 >>> 2) | (a5 << 6);
        break;
      default:
        hash = a4 | (a5 << 8);
    }
    hash &= 0xfff;
    return this.mta[hash >>> 5]! & (1 << (hash & 31)) ? MULTICAST : REJECT;
  }

  // ---------------------------------------------------------------- transmit

  /** True when the transmit ring holds descriptors the device can process now. */
  transmitPending(): boolean {
    if ((this.tctl & R.TCTL_EN) === 0 || !this.linkUp || this.txCount === 0) return false;
    if (this.txStalledAt === this.txHead) return false;
    const tail = Atomics.load(this.regs, w(R.TDT)) >>> 0;
    return tail < this.txCount && tail !== this.txHead;
  }

  /**
   * Process up to `budget` transmit descriptors. Nothing is sent while the transmitter
   * is disabled or the link is down: descriptors wait. Returns descriptors processed.
   */
  transmit(budget = TX_BUDGET): number {
    if ((this.tctl & R.TCTL_EN) === 0 || !this.linkUp || this.txCount === 0) return 0;
    const count = this.txCount;
    const tail = this.checkedTail(R.TDT, count, 'tx');
    if (tail < 0 || this.txStalledAt === this.txHead) return 0;
    const d = this.txd;
    let done = 0;
    let head = this.txHead;
    while (head !== tail && done < budget) {
      const addr = this.txBase < 0 ? -1 : this.txBase + head * DESC_BYTES;
      const desc = this.phys.resolve(addr, DESC_BYTES);
      if (desc === undefined) {
        this.txStalledAt = head;
        this.dmaError(
          'tx-descriptor',
          `transmit descriptor ${head} at 0x${addr.toString(16)} lies outside physical memory: transmitter stalled`,
        );
        break;
      }
      const words = desc.words;
      const at = desc.offset >>> 2;
      d.read(words, at);
      this.gather(d);
      if (d.cmd & TXD_CMD_EOP) this.finishFrame(d);
      if (d.cmd & TXD_CMD_RS) {
        writeBackTx(words, at, d.word3);
        this.causes |= R.INT_TXDW;
      }
      head = (head + 1) % count;
      done++;
    }
    if (done > 0) {
      this.txHead = head;
      Atomics.store(this.regs, w(R.TDH), head);
      if (head === tail) this.causes |= R.INT_TXQE;
    }
    return done;
  }

  /** The first bytes of a frame: gather straight into the link's next frame if it has room. */
  private startFrame(): void {
    const at = this.link.reserve();
    this.frameToLink = at >= 0;
    if (this.frameToLink) {
      this.frameBytes = this.link.bytes;
      this.frameWords = this.link.words;
      this.frameAt = at;
    } else {
      this.frameBytes = this.scratch;
      this.frameWords = this.scratchWords;
      this.frameAt = 0;
    }
  }

  /** Add one descriptor's data to the frame being gathered. */
  private gather(d: TxDescriptor): void {
    this.frameDescriptors++;
    if (d.cmd & TXD_CMD_DEXT) {
      this.notice('tx-dext', 'extended (DEXT) transmit descriptors are not modelled: frame dropped');
      this.frameDrop ??= 'txUnsupported';
      return;
    }
    if (this.frameDrop !== undefined || d.length === 0) return;
    if (this.frameLength + d.length > TX_CAP) {
      this.frameDrop = 'txOversize';
      return;
    }
    const b = this.phys.resolve(d.address, d.length);
    if (b === undefined) {
      this.dmaError('tx-buffer', 'a transmit buffer lies outside physical memory: frame dropped');
      this.frameDrop = 'txDmaDropped';
      return;
    }
    if (this.frameDescriptors === 1 || this.frameLength === 0) this.startFrame();
    copyBytes(
      this.frameBytes,
      this.frameWords,
      this.frameAt + this.frameLength,
      b.bytes,
      b.words,
      b.offset,
      d.length,
    );
    this.frameLength += d.length;
  }

  /** The EOP descriptor: its CMD bits (IFCS, IC, VLE) and CSO/CSS apply to the frame. */
  private finishFrame(d: TxDescriptor): void {
    const c = this.counters;
    let len = this.frameLength;
    let drop = this.frameDrop;
    if (drop === undefined && d.cmd & TXD_CMD_VLE) {
      this.notice('tx-vle', 'VLAN insertion (CMD.VLE) is not modelled: frame dropped');
      drop = 'txUnsupported';
    }
    if (drop === undefined && len === 0) drop = 'txRunt';
    if (drop === undefined && (d.cmd & TXD_CMD_IFCS) === 0) {
      // The driver supplied the FCS: the link carries frames without one.
      if (fcsValid(this.frameBytes, this.frameAt, len)) len -= FCS_BYTES;
      else {
        this.programmingError(
          'tx-fcs',
          'CMD.IFCS clear and the last 4 bytes are not the FCS: frame dropped (set IFCS to let the NIC add it)',
        );
        drop = 'txBadFcs';
      }
    }
    if (drop === undefined && len > MAX_FRAME) drop = 'txOversize';
    if (drop === undefined && d.cmd & TXD_CMD_IC) this.insertChecksum(d.css, d.cso, len);
    if (drop === undefined && len < MIN_PADDED && this.tctl & R.TCTL_PSP) {
      this.frameBytes.fill(0, this.frameAt + len, this.frameAt + MIN_PADDED);
      len = MIN_PADDED;
    }
    if (drop === undefined && len < MIN_FRAME) drop = 'txRunt';
    if (drop !== undefined) c[drop]++;
    else this.send(len);
    this.dropFrame();
  }

  /**
   * CMD.IC: the 16-bit ones' complement checksum of bytes CSS..end, stored at CSO. The
   * field is summed as it is: a driver seeds it with the pseudo-header's sum.
   */
  private insertChecksum(css: number, cso: number, len: number): void {
    if (css >= len || cso + 2 > len) {
      this.programmingError(
        'tx-ic',
        `CMD.IC with CSS=${css}, CSO=${cso} outside a ${len}-byte frame: not inserted`,
      );
      return;
    }
    const b = this.frameBytes;
    const at = this.frameAt;
    const sum = internetChecksum(b, at + css, len - css);
    b[at + cso] = sum >>> 8;
    b[at + cso + 1] = sum & 0xff;
  }

  private send(len: number): void {
    const c = this.counters;
    const onWire = len + FCS_BYTES;
    this.count(R.GPTC, 1);
    this.count(R.TPT, 1);
    this.count(R.GOTCL, onWire);
    this.count(R.TOTL, onWire);
    this.count(sizeBin(R.PTC64, onWire), 1);
    const b = this.frameBytes;
    const at = this.frameAt;
    if (b[at]! & 1) {
      const bcast = (b[at]! & b[at + 1]! & b[at + 2]! & b[at + 3]! & b[at + 4]! & b[at + 5]!) === 0xff;
      this.count(bcast ? R.BPTC : R.MPTC, 1);
    }
    c.framesOut++;
    c.bytesOut += len;
    if (this.frameToLink) this.link.commit(len);
    else c.wireDropped++;
  }

  private dropFrame(): void {
    this.frameLength = 0;
    this.frameDescriptors = 0;
    this.frameDrop = undefined;
  }

  // ---------------------------------------------------------------- interrupts

  /**
   * Publish the causes raised since the last call into ICR and drive the interrupt
   * line: it is asserted (SIG_IRQ counts, waiters wake) when ICR & IMS is non-zero and
   * the line is not already up, no sooner than the ITR interval after the previous
   * assertion. Reading or writing ICR (the driver's acknowledgement) lowers it.
   */
  updateInterrupt(now = this.clock()): void {
    if (this.causes !== 0) {
      Atomics.or(this.regs, w(R.ICR), this.causes);
      this.causes = 0;
    }
    const acks = Atomics.load(this.sig, SIG_ICR_ACKS);
    if (acks !== this.acksSeen) {
      this.acksSeen = acks;
      this.asserted = false;
    }
    this.deadline = Number.POSITIVE_INFINITY;
    const pending = Atomics.load(this.regs, w(R.ICR)) & Atomics.load(this.regs, w(R.IMS));
    if (pending === 0) {
      this.asserted = false;
      return;
    }
    if (this.asserted) return;
    const interval = (Atomics.load(this.regs, w(R.ITR)) & R.ITR_INTERVAL_MASK) * R.ITR_UNIT_NS;
    if (interval > 0 && now < this.lastAssert + interval) {
      this.deadline = this.lastAssert + interval;
      return;
    }
    this.asserted = true;
    this.lastAssert = now;
    this.counters.interrupts++;
    Atomics.add(this.sig, SIG_IRQ, 1);
    Atomics.notify(this.sig, SIG_IRQ);
  }

  /** When updateInterrupt must run again to assert a moderated interrupt (ns), or +Infinity. */
  get nextDeadline(): number {
    return this.deadline;
  }

  // ---------------------------------------------------------------- one turn

  /** Latch writes, transmit, publish statistics, drive the interrupt line. Returns work done. */
  service(now = this.clock()): number {
    let work = this.applyWrites();
    work += this.transmit();
    this.endTurn(now);
    return work;
  }

  /** What ends every turn: RDH and statistics into the registers, then the interrupt line. */
  endTurn(now = this.clock()): void {
    if (this.rxHeadDirty) this.publishRxHead();
    this.flushStats();
    this.updateInterrupt(now);
  }

  /** Memory was mapped: a stalled transmitter may go on. */
  memoryChanged(): void {
    this.txStalledAt = -1;
  }

  // ---------------------------------------------------------------- statistics

  /** Count into a statistics register (a 64-bit pair by its low half). */
  private count(offset: number, n: number): void {
    this.stats[(offset - R.STATS_FIRST) >>> 2]! += n;
    this.statsDirty = true;
  }

  /** Add what accumulated to the statistics registers (the driver reads and clears them). */
  flushStats(): void {
    if (!this.statsDirty) return;
    this.statsDirty = false;
    const s = this.stats;
    const r = this.regs;
    for (let i = 0; i < STATS_WORDS; i++) {
      const n = s[i]!;
      if (n === 0) continue;
      s[i] = 0;
      const at = w(R.STATS_FIRST) + i;
      if (LOW_HALF[i]) {
        // A 64-bit pair: carry into the high half (2^64 bytes are not reached).
        const lo = n % 2 ** 32;
        const before = Atomics.add(r, at, lo | 0) >>> 0;
        const carry = (n - lo) / 2 ** 32 + (before + lo > 0xffff_ffff ? 1 : 0);
        if (carry) Atomics.add(r, at + 1, carry | 0);
      } else {
        // The 8254x's counters stick at 0xFFFFFFFF rather than wrap. The driver may
        // clear the word at any moment, hence compare-exchange.
        for (;;) {
          const before = Atomics.load(r, at);
          const after = Math.min(0xffff_ffff, (before >>> 0) + n) | 0;
          if (Atomics.compareExchange(r, at, before, after) === before) break;
        }
      }
    }
  }

  // ---------------------------------------------------------------- problems

  private programmingError(kind: string, message: string): void {
    this.counters.programmingErrors++;
    this.logOnce(kind, message);
  }

  private dmaError(kind: string, message: string): void {
    this.counters.dmaErrors++;
    this.logOnce(kind, message);
  }

  /** Something the model does not do, said once (no counter: the frame's drop is counted). */
  private notice(kind: string, message: string): void {
    this.logOnce(kind, message);
  }

  private logOnce(kind: string, message: string): void {
    if (this.logged.has(kind)) return;
    this.logged.add(kind);
    this.log(kind, message);
  }
}

/** The size-bin counter (64, 65-127, ..., 1024-1522 bytes with FCS) for a frame of `len` bytes. */
function sizeBin(first: number, len: number): number {
  if (len <= 64) return first;
  if (len <= 127) return first + 4;
  if (len <= 255) return first + 8;
  if (len <= 511) return first + 12;
  if (len <= 1023) return first + 16;
  return first + 20;
}
