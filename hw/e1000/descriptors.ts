// The 8254x's legacy receive and transmit descriptors: 16 bytes each, little-endian,
// in rings in physical memory. Both sides use these helpers: the driver arms and
// fills descriptors, the device reads them and writes them back.
//
// A descriptor is read word by word, each word once, into a reusable snapshot
// object (no allocation per descriptor); the fields come from those locals. The
// word that carries the status (word 3) is written last and with an Atomics store,
// and read with an Atomics load: whoever sees DD also sees the rest.
//
//   RX  word 0-1 buffer address   word 2 length 15:0, checksum 31:16
//       word 3 status 7:0, errors 15:8, special 31:16
//   TX  word 0-1 buffer address   word 2 length 15:0, CSO 23:16, CMD 31:24
//       word 3 STA 3:0, CSS 15:8, special 31:16

import { endianness } from 'node:os';

export const DESC_BYTES = 16;
export const DESC_WORDS = 4;

// The typed arrays below use the platform's byte order; the 8254x's is little-endian.
if (endianness() !== 'LE') throw new Error('the emulated e1000 needs a little-endian host');

/** Physical addresses are below 2^53 (exact in a JS number); descriptors carry them as two u32 words. */
export const PHYS_LIMIT = 2 ** 53;
const TWO32 = 2 ** 32;

/** A physical address from its two descriptor words, or -1 when it is not below 2^53. */
export function joinPhys(lo: number, hi: number): number {
  const h = hi >>> 0;
  if (h >= 0x20_0000) return -1;
  return h * TWO32 + (lo >>> 0);
}

export function physLow(addr: number): number {
  return addr >>> 0;
}

export function physHigh(addr: number): number {
  return Math.floor(addr / TWO32) >>> 0;
}

// RX status bits
export const RXD_STAT_DD = 1 << 0;
export const RXD_STAT_EOP = 1 << 1;
export const RXD_STAT_IXSM = 1 << 2;
export const RXD_STAT_VP = 1 << 3;
export const RXD_STAT_TCPCS = 1 << 5;
export const RXD_STAT_IPCS = 1 << 6;
export const RXD_STAT_PIF = 1 << 7;
// RX error bits
export const RXD_ERR_CE = 1 << 0;
export const RXD_ERR_SE = 1 << 1;
export const RXD_ERR_SEQ = 1 << 2;
export const RXD_ERR_CXE = 1 << 4;
export const RXD_ERR_TCPE = 1 << 5;
export const RXD_ERR_IPE = 1 << 6;
/** RX data error: here, the buffer could not be written (a DMA error). */
export const RXD_ERR_RXE = 1 << 7;

// TX command bits
export const TXD_CMD_EOP = 1 << 0;
export const TXD_CMD_IFCS = 1 << 1;
export const TXD_CMD_IC = 1 << 2;
export const TXD_CMD_RS = 1 << 3;
export const TXD_CMD_RPS = 1 << 4;
export const TXD_CMD_DEXT = 1 << 5;
export const TXD_CMD_VLE = 1 << 6;
export const TXD_CMD_IDE = 1 << 7;
// TX status bits
export const TXD_STAT_DD = 1 << 0;
export const TXD_STAT_EC = 1 << 1;
export const TXD_STAT_LC = 1 << 2;
export const TXD_STAT_TU = 1 << 3;

/** A snapshot of one receive descriptor. */
export class RxDescriptor {
  addrLo = 0;
  addrHi = 0;
  length = 0;
  checksum = 0;
  status = 0;
  errors = 0;
  special = 0;

  /** Read the descriptor at word index `at` (its byte offset / 4), each word once. */
  read(words: Int32Array, at: number): this {
    this.addrLo = words[at]! >>> 0;
    this.addrHi = words[at + 1]! >>> 0;
    const w2 = words[at + 2]!;
    const w3 = Atomics.load(words, at + 3);
    this.length = w2 & 0xffff;
    this.checksum = w2 >>> 16;
    this.status = w3 & 0xff;
    this.errors = (w3 >>> 8) & 0xff;
    this.special = w3 >>> 16;
    return this;
  }

  /** The buffer's physical address, or -1 when the descriptor names none below 2^53. */
  get address(): number {
    return joinPhys(this.addrLo, this.addrHi);
  }

  get done(): boolean {
    return (this.status & RXD_STAT_DD) !== 0;
  }

  get endOfPacket(): boolean {
    return (this.status & RXD_STAT_EOP) !== 0;
  }
}

/** Driver: hand a receive buffer to the device (address, status cleared). Then advance RDT. */
export function armRx(words: Int32Array, at: number, bufferAddr: number): void {
  words[at] = physLow(bufferAddr) | 0;
  words[at + 1] = physHigh(bufferAddr) | 0;
  words[at + 2] = 0;
  Atomics.store(words, at + 3, 0);
}

/** Device: a receive descriptor is done: its length, then status and errors (published last). */
export function writeBackRx(
  words: Int32Array,
  at: number,
  length: number,
  status: number,
  errors: number,
): void {
  words[at + 2] = length & 0xffff;
  Atomics.store(words, at + 3, (status & 0xff) | ((errors & 0xff) << 8));
}

/** Driver: the status word of a receive descriptor (an Atomics load: see the module comment). */
export function rxStatus(words: Int32Array, at: number): number {
  return Atomics.load(words, at + 3) & 0xff;
}

/** A snapshot of one legacy transmit descriptor. */
export class TxDescriptor {
  addrLo = 0;
  addrHi = 0;
  length = 0;
  cso = 0;
  cmd = 0;
  sta = 0;
  css = 0;
  special = 0;
  /** Word 3 as read, for the write-back. */
  word3 = 0;

  read(words: Int32Array, at: number): this {
    this.addrLo = words[at]! >>> 0;
    this.addrHi = words[at + 1]! >>> 0;
    const w2 = words[at + 2]!;
    const w3 = words[at + 3]!;
    this.length = w2 & 0xffff;
    this.cso = (w2 >>> 16) & 0xff;
    this.cmd = w2 >>> 24;
    this.word3 = w3;
    this.sta = w3 & 0x0f;
    this.css = (w3 >>> 8) & 0xff;
    this.special = w3 >>> 16;
    return this;
  }

  get address(): number {
    return joinPhys(this.addrLo, this.addrHi);
  }
}

export interface TxOffload {
  /** Checksum offset (IC): where the 16-bit checksum goes. */
  cso?: number;
  /** Checksum start (IC): where summing starts. */
  css?: number;
  special?: number;
}

/** Driver: fill a transmit descriptor (STA cleared, written last). Then advance TDT. */
export function writeTx(
  words: Int32Array,
  at: number,
  bufferAddr: number,
  length: number,
  cmd: number,
  offload?: TxOffload,
): void {
  words[at] = physLow(bufferAddr) | 0;
  words[at + 1] = physHigh(bufferAddr) | 0;
  words[at + 2] = (length & 0xffff) | (((offload?.cso ?? 0) & 0xff) << 16) | ((cmd & 0xff) << 24);
  Atomics.store(
    words,
    at + 3,
    (((offload?.css ?? 0) & 0xff) << 8) | (((offload?.special ?? 0) & 0xffff) << 16),
  );
}

/** Device: report a transmit descriptor done (STA.DD), keeping CSS and special as they were read. */
export function writeBackTx(words: Int32Array, at: number, word3: number): void {
  Atomics.store(words, at + 3, (word3 & ~0x0f) | TXD_STAT_DD);
}

/** Driver: the STA bits of a transmit descriptor. */
export function txStatus(words: Int32Array, at: number): number {
  return Atomics.load(words, at + 3) & 0x0f;
}
