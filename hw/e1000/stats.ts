// The device-wide counters for the host: never cleared by reads (unlike the 8254x's
// statistics registers, which the driver owns), and one count for every way a frame
// can be lost. The device keeps them in a plain object and publishes a copy to the
// host page under a seqlock once per turn of its loop; stats() reads a consistent copy.

import { HOST_STATS_BYTE, HOST_STATS_SEQ } from './signals.ts';

export class E1000Counters {
  /** Frames (and their bytes, without FCS) written into the receive ring. */
  framesIn = 0;
  bytesIn = 0;
  /** Frames (and bytes) transmitted onto the link. */
  framesOut = 0;
  bytesOut = 0;

  // Receive-side drops, by cause.
  /** No free receive descriptor (the MPC register counts these too). */
  missed = 0;
  /** Refused by the address filter. */
  filtered = 0;
  /** The receiver was disabled (RCTL.EN clear) or the link down. */
  rxOff = 0;
  /** A receive descriptor or buffer lay outside physical memory. */
  rxDmaDropped = 0;
  /** The link delivered a frame of impossible length (shorter than a header, longer than the link carries). */
  rxBadLength = 0;

  // Transmit-side drops, by cause.
  /** A transmit descriptor's buffer lay outside physical memory. */
  txDmaDropped = 0;
  /** Longer than the link carries. */
  txOversize = 0;
  /** Shorter than an Ethernet header (PSP clear), or no bytes at all. */
  txRunt = 0;
  /** CMD.IFCS clear and the frame's last four bytes are not its FCS: the wire would corrupt it. */
  txBadFcs = 0;
  /** Used a feature the model does not have (extended descriptors, VLAN insertion). */
  txUnsupported = 0;
  /** A frame partly gathered when the transmitter was disabled, reset or its ring moved. */
  txAborted = 0;
  /** The host end of the link had no room (the frame left the NIC and was lost on the wire). */
  wireDropped = 0;

  /** DMA to or from an address outside physical memory (descriptors and buffers). */
  dmaErrors = 0;
  /** Register or descriptor contents the device had to ignore or correct. */
  programmingErrors = 0;
  /** Interrupt assertions. */
  interrupts = 0;
  resets = 0;
  linkChanges = 0;
  /** The host's queue to the device was found corrupt and abandoned. */
  linkFailures = 0;
}

export type E1000Stats = { -readonly [K in keyof E1000Counters]: number };

export const COUNTER_NAMES: readonly (keyof E1000Stats)[] = Object.keys(
  new E1000Counters(),
) as (keyof E1000Stats)[];

/** Bytes of host page the counters take. */
export const COUNTERS_BYTES = COUNTER_NAMES.length * 8;

/** The device's side: copy the counters out under the seqlock. */
export class CountersPublisher {
  private readonly seq: Int32Array;
  private readonly values: Float64Array;

  constructor(host: SharedArrayBuffer) {
    this.seq = new Int32Array(host);
    this.values = new Float64Array(host, HOST_STATS_BYTE, COUNTER_NAMES.length);
  }

  publish(c: E1000Counters): void {
    Atomics.add(this.seq, HOST_STATS_SEQ, 1); // odd: writing
    const v = this.values;
    const r = c as unknown as Record<string, number>;
    for (let i = 0; i < COUNTER_NAMES.length; i++) v[i] = r[COUNTER_NAMES[i]!]!;
    Atomics.add(this.seq, HOST_STATS_SEQ, 1); // even: stable
  }
}

/** The host's side: a consistent copy (retries while the device is writing). */
export function readCounters(host: SharedArrayBuffer): E1000Stats {
  const seq = new Int32Array(host);
  const values = new Float64Array(host, HOST_STATS_BYTE, COUNTER_NAMES.length);
  const out = new E1000Counters() as E1000Stats;
  const r = out as unknown as Record<string, number>;
  for (let attempt = 0; attempt < 10_000; attempt++) {
    const before = Atomics.load(seq, HOST_STATS_SEQ);
    if (before & 1) continue;
    for (let i = 0; i < COUNTER_NAMES.length; i++) r[COUNTER_NAMES[i]!] = values[i]!;
    if (Atomics.load(seq, HOST_STATS_SEQ) === before) break;
  }
  return out;
}
