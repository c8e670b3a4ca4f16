// Clients' memory as the driver holds it. A buffer is a SharedArrayBuffer that a
// client registered over its ether binding; it belongs to that binding's peer (the
// runtime says who, never a message). A client names memory only as (buffer, offset,
// length), and every such name is checked here before a byte is read or written.
// An RX buffer keeps the client's empty pbufs in a bounded ring, in the order given.

import type { ActorId } from '../../runtime/index.ts';

export type BufferId = number;

/** Buffers are at least a page, at most this: a client cannot make the driver map more. */
export const MAX_BUFFER_BYTES = 64 << 20;
export const MIN_BUFFER_BYTES = 4096;
/** Empty pbufs one RX buffer may hold; more are refused (counted). */
export const MAX_PBUFS = 4096;

/** Counters kept per client (per ether binding). */
export interface ClientStats {
  rxFrames: number;
  rxBytes: number;
  /** Frames for this client that it lost, by cause. */
  readonly rxDropped: { noPbuf: number; pbufTooSmall: number; ringFull: number };
  txFrames: number;
  txBytes: number;
  txRefused: number;
  txBadPbuf: number;
  txTooLong: number;
  txBusy: number;
  /** register_pbuf refused: outside the buffer, not an RX buffer, or too many. */
  pbufsRefused: number;
  /** tx_done reports dropped because the client left more than TX_DONE_BACKLOG unread. */
  txDoneDropped: number;
}

export function clientStats(): ClientStats {
  return {
    rxFrames: 0,
    rxBytes: 0,
    rxDropped: { noPbuf: 0, pbufTooSmall: 0, ringFull: 0 },
    txFrames: 0,
    txBytes: 0,
    txRefused: 0,
    txBadPbuf: 0,
    txTooLong: 0,
    txBusy: 0,
    pbufsRefused: 0,
    txDoneDropped: 0,
  };
}

interface BufferBase<S> {
  readonly id: BufferId;
  readonly owner: ActorId;
  /** The client session (its binding) that registered it. */
  readonly session: S;
  readonly bytes: Uint8Array;
  alive: boolean;
}

export interface RxBuffer<S = unknown> extends BufferBase<S> {
  readonly role: 'rx';
  readonly pbufs: PbufRing;
}

export interface TxBuffer<S = unknown> extends BufferBase<S> {
  readonly role: 'tx';
  /** Where the device sees this buffer (its IOMMU mapping). */
  phys: number;
  /** Frames from it that the device may still read: it is unmapped only when none is left. */
  inFlight: number;
}

/** True when [offset, offset + len) lies inside the buffer (len > 0). */
export function inside(b: { readonly bytes: Uint8Array }, offset: number, len: number): boolean {
  return len > 0 && offset >= 0 && offset <= b.bytes.length - len;
}

/** A FIFO of empty pbufs (id, offset, length), in typed arrays: nothing allocated per pbuf. */
export class PbufRing {
  private readonly ids = new Uint32Array(MAX_PBUFS);
  private readonly offsets = new Uint32Array(MAX_PBUFS);
  private readonly lengths = new Uint32Array(MAX_PBUFS);
  private head = 0;
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(id: number, offset: number, len: number): boolean {
    if (this.count === MAX_PBUFS) return false;
    const at = (this.head + this.count) % MAX_PBUFS;
    this.ids[at] = id;
    this.offsets[at] = offset;
    this.lengths[at] = len;
    this.count++;
    return true;
  }

  /** The oldest pbuf: its index into id/offset/length, or -1 if there is none. */
  front(): number {
    return this.count === 0 ? -1 : this.head;
  }

  id(i: number): number {
    return this.ids[i]!;
  }

  offset(i: number): number {
    return this.offsets[i]!;
  }

  length(i: number): number {
    return this.lengths[i]!;
  }

  shift(): void {
    this.head = (this.head + 1) % MAX_PBUFS;
    this.count--;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}
