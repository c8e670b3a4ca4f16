// One client of the driver: an ether binding, the buffers registered over it, what
// it is in the middle of sending, and its counters. The binding's peer (from the
// runtime) owns the buffers; when the binding ends, whatever the reason, the
// session is torn down at once.

import type { EtherServer } from '../../protocols/generated/ether.ts';
import type { ActorId } from '../../runtime/index.ts';
import {
  type BufferId,
  type ClientStats,
  clientStats,
  PbufRing,
  type RxBuffer,
  type TxBuffer,
} from './buffers.ts';

/** Pbufs one frame may have: more is not a frame a stack sends. */
export const MAX_PBUFS_PER_FRAME = 16;

export type SessionRx = RxBuffer<ClientSession>;
export type SessionTx = TxBuffer<ClientSession>;

/** The pbufs of a frame being gathered from consecutive transmit_packet messages. */
export class Gather {
  count = 0;
  expected = 0;
  bufferId = 0;
  readonly pbufIds = new Uint32Array(MAX_PBUFS_PER_FRAME);
  readonly offsets = new Uint32Array(MAX_PBUFS_PER_FRAME);
  readonly lengths = new Uint32Array(MAX_PBUFS_PER_FRAME);
  /** Set when a pbuf of this frame was bad: the whole frame is refused with this error. */
  error = 0;
}

export class ClientSession {
  readonly peer: ActorId;
  readonly name: string;
  readonly stats: ClientStats = clientStats();
  readonly rx = new Map<BufferId, SessionRx>();
  readonly tx = new Map<BufferId, SessionTx>();
  readonly gather = new Gather();
  /** tx_done reports that found the client's ring full: sent, in order, when it has room. */
  readonly backlog = new TxDoneBacklog();
  /** Frames of this client accepted and not yet reported done (in the device or queued). */
  inFlight = 0;
  /** TX buffers registering now, waiting for the IOMMU: counted against the buffer limit. */
  mapping = 0;
  alive = true;

  constructor(readonly ep: EtherServer) {
    this.peer = ep.peer.id;
    this.name = ep.peer.name;
  }

  /** The RX buffer that ARP copies go to: the first one the client registered. */
  firstRx(): SessionRx | undefined {
    for (const b of this.rx.values()) if (b.alive) return b;
    return undefined;
  }

  addRx(id: BufferId, bytes: Uint8Array): SessionRx {
    const b: SessionRx = {
      id,
      owner: this.peer,
      session: this,
      bytes,
      alive: true,
      role: 'rx',
      pbufs: new PbufRing(),
    };
    this.rx.set(id, b);
    return b;
  }

  addTx(id: BufferId, bytes: Uint8Array, phys: number): SessionTx {
    const b: SessionTx = {
      id,
      owner: this.peer,
      session: this,
      bytes,
      alive: true,
      role: 'tx',
      phys,
      inFlight: 0,
    };
    this.tx.set(id, b);
    return b;
  }

  /**
   * Tell the client a pbuf may be reused. A full ring keeps the report, in order, for
   * when the client has drained it: a client must always get its pbufs back.
   */
  txDone(pbufId: number, err: number): void {
    if (!this.alive) return;
    const q = this.backlog;
    if (q.size === 0 && this.ep.tx.tx_done(pbufId, err)) return;
    // A client that never reads its ring must not make the driver hold its reports
    // without bound: past the backlog they are dropped, and counted.
    if (!q.push(pbufId, err)) {
      this.stats.txDoneDropped++;
      return;
    }
    if (q.size === 1) void this.drainBacklog();
  }

  private async drainBacklog(): Promise<void> {
    const q = this.backlog;
    while (this.alive && q.size > 0) {
      try {
        await this.ep.writable();
      } catch {
        return; // the binding ended
      }
      while (q.size > 0 && this.ep.tx.tx_done(q.frontPbuf, q.frontErr)) q.shift();
    }
  }
}

/** tx_done reports a client's ring had no room for, at most this many (its ring holds as many). */
export const TX_DONE_BACKLOG = 8192;

/**
 * A ring of (pbuf, error) pairs: O(1) at both ends, no allocation per report. It is made
 * on first use and doubles up to TX_DONE_BACKLOG, so a client that keeps up costs nothing.
 */
export class TxDoneBacklog {
  private pairs: Int32Array | undefined;
  private cap = 0;
  private head = 0;
  size = 0;

  /** False when full. */
  push(pbufId: number, err: number): boolean {
    if (this.size === this.cap && !this.grow()) return false;
    const pairs = this.pairs!;
    const at = 2 * ((this.head + this.size) % this.cap);
    pairs[at] = pbufId;
    pairs[at + 1] = err;
    this.size++;
    return true;
  }

  get frontPbuf(): number {
    return this.pairs![2 * this.head]!;
  }

  get frontErr(): number {
    return this.pairs![2 * this.head + 1]!;
  }

  shift(): void {
    this.head = (this.head + 1) % this.cap;
    this.size--;
  }

  clear(): void {
    this.pairs = undefined;
    this.cap = this.head = this.size = 0;
  }

  private grow(): boolean {
    if (this.cap >= TX_DONE_BACKLOG) return false;
    const cap = this.cap === 0 ? 256 : Math.min(TX_DONE_BACKLOG, this.cap * 2);
    const next = new Int32Array(2 * cap);
    for (let i = 0; i < this.size; i++) {
      const from = 2 * ((this.head + i) % this.cap);
      next[2 * i] = this.pairs![from]!;
      next[2 * i + 1] = this.pairs![from + 1]!;
    }
    this.pairs = next;
    this.cap = cap;
    this.head = 0;
    return true;
  }
}
