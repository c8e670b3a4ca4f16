// The small shared pages beside the register window.
//
// The signals page goes to the driver with the registers: it carries what a bus and
// an interrupt line carry on real hardware. Every word the driver can write here is
// only ever compared or counted by the device, never trusted as an index.
//
//   word  0  MAGIC        identifies the page (the bus checks it)
//   word 16  DOORBELL     (2 words) the device thread sleeps on it; register writes
//                         that need the device, and frames from the host, ring it
//   word 32  IRQ          interrupt assertions so far (the device adds and notifies;
//                         the driver waits on it)
//   word 33  GONE         set when the device is shut down (wakes interrupt waiters)
//   word 48  PENDING      register groups written since the device last looked
//   word 49  ICR_ACKS     bumped by every ICR read or write: the driver acknowledged,
//                         so the interrupt line drops
//
// The host page never leaves the embedding program and the device thread:
//
//   word  0  STOP         the device thread ends its loop
//   word  1  CONTROL      control messages wait on the device's port
//   word 16  STATS_SEQ    seqlock over the counters (even: stable)
//   byte 128 on           the device-wide counters, Float64 each (stats.ts)

export const SIGNALS_BYTES = 4096;
export const SIGNALS_MAGIC = 0x8254_0e10 | 0;
export const SIG_MAGIC = 0;
export const SIG_DOORBELL = 16;
export const SIG_IRQ = 32;
export const SIG_GONE = 33;
export const SIG_PENDING = 48;
export const SIG_ICR_ACKS = 49;

// PENDING bits: which latched state the device must reload.
export const PEND_CTRL = 1 << 0;
export const PEND_EERD = 1 << 1;
/** RCTL, the receive address registers, the multicast table. */
export const PEND_RX_CONFIG = 1 << 2;
/** RDBAL, RDBAH, RDLEN, RDH. */
export const PEND_RX_RING = 1 << 3;
export const PEND_TX_CONFIG = 1 << 4;
/** TDBAL, TDBAH, TDLEN, TDH. */
export const PEND_TX_RING = 1 << 5;
/** IMS, ICS, ITR: interrupt state to evaluate. */
export const PEND_IRQ = 1 << 6;
/** MDIC: a PHY register access. */
export const PEND_MDIC = 1 << 7;

export const HOST_BYTES = 4096;
export const HOST_STOP = 0;
export const HOST_CONTROL = 1;
export const HOST_STATS_SEQ = 16;
export const HOST_STATS_BYTE = 128;

export function createSignals(): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(SIGNALS_BYTES);
  new Int32Array(sab)[SIG_MAGIC] = SIGNALS_MAGIC;
  return sab;
}

export function createHostPage(): SharedArrayBuffer {
  return new SharedArrayBuffer(HOST_BYTES);
}
