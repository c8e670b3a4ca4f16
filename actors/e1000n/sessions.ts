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
  /** tx_done messages that found the client's ring full: sent, in order, when it has room. */
  readonly backlog: number[] = [];
  /** Frames of this client accepted and not yet reported done (in the device or queued). */
  inFlight = 0;
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
    if (this.backlog.length === 0 && this.ep.tx.tx_done(pbufId, err)) return;
    this.backlog.push(pbufId, err);
    if (this.backlog.length === 2) void this.drainBacklog();
  }

  private async drainBacklog(): Promise<void> {
    while (this.alive && this.backlog.length > 0) {
      try {
        await this.ep.writable();
      } catch {
        return; // the binding ended
      }
      while (this.backlog.length > 0 && this.ep.tx.tx_done(this.backlog[0]!, this.backlog[1]!)) {
        this.backlog.splice(0, 2);
      }
    }
  }
}
