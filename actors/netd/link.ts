// netd's own link to the driver: an ether binding like any client's, with an RX
// buffer (the default buffer: what no filter claims, and a copy of every ARP frame)
// kept stocked with pbufs, and a TX buffer cut into slots, one per frame in flight.

import { BufferRole, type EtherClient, ether } from '../../protocols/generated/ether.ts';
import type { ActorContext } from '../../runtime/index.ts';

const PBUF = 2048;

export interface LinkStats {
  rxFrames: number;
  txFrames: number;
  /** Frames netd could not send: no free slot, or the driver refused them. */
  txDropped: number;
  pbufsRefused: number;
}

export class NetdLink {
  readonly stats: LinkStats = { rxFrames: 0, txFrames: 0, txDropped: 0, pbufsRefused: 0 };
  private readonly rx: Uint8Array;
  private readonly tx: Uint8Array;
  private readonly free: number[] = [];
  private readonly back: number[] = [];
  private onFrame: (frame: Uint8Array, len: number) => void = () => {};

  private constructor(
    readonly ep: EtherClient,
    rxMem: SharedArrayBuffer,
    txMem: SharedArrayBuffer,
    readonly rxBuffer: number,
    readonly txBuffer: number,
    readonly mac: number,
    pbufs: number,
    slots: number,
  ) {
    this.rx = new Uint8Array(rxMem);
    this.tx = new Uint8Array(txMem);
    for (let i = slots - 1; i >= 0; i--) this.free.push(i);
    ep.rx.packet_received = (pbuf, offset, _len, n) => {
      this.stats.rxFrames++;
      // The handler copies what it keeps: the pbuf goes back to the driver after it.
      if (offset + n <= this.rx.length) this.onFrame(this.rx.subarray(offset, offset + n), n);
      this.give(pbuf);
    };
    ep.rx.pbuf_refused = () => {
      this.stats.pbufsRefused++;
    };
    ep.rx.tx_done = (slot, err) => {
      if (err !== 0) this.stats.txDropped++;
      this.free.push(slot);
    };
    for (let i = 0; i < pbufs; i++) this.give(i);
    ep.flush();
  }

  static async open(ctx: ActorContext<unknown>, service: string, pbufs = 64, slots = 64): Promise<NetdLink> {
    const ep = await ctx.connect(ether, service, { transport: 'shm' });
    const rxMem = new SharedArrayBuffer(PBUF * pbufs);
    const txMem = new SharedArrayBuffer(PBUF * slots);
    const { buffer_id: rx } = await ep.rpc.register_buffer(rxMem, BufferRole.BUFFER_RX);
    const { buffer_id: tx } = await ep.rpc.register_buffer(txMem, BufferRole.BUFFER_TX);
    const { hwaddr } = await ep.rpc.get_mac_address();
    return new NetdLink(ep, rxMem, txMem, rx, tx, Number(hwaddr), pbufs, slots);
  }

  /** Frames from the default buffer arrive here (a view valid during the call). */
  receive(fn: (frame: Uint8Array, len: number) => void): void {
    this.onFrame = fn;
  }

  /** Send a frame; false (counted) when no slot is free. */
  send(frame: Uint8Array): boolean {
    const slot = this.free.pop();
    if (slot === undefined || frame.length > PBUF) {
      if (slot !== undefined) this.free.push(slot);
      this.stats.txDropped++;
      return false;
    }
    this.tx.set(frame, slot * PBUF);
    if (!this.ep.tx.transmit_packet(this.txBuffer, slot, slot * PBUF, frame.length, 1)) {
      this.free.push(slot);
      this.stats.txDropped++;
      return false;
    }
    this.stats.txFrames++;
    return true;
  }

  private give(pbuf: number): void {
    if (this.back.length === 0 && this.ep.tx.register_pbuf(this.rxBuffer, pbuf, pbuf * PBUF, PBUF)) return;
    this.back.push(pbuf);
    if (this.back.length > 1) return;
    void (async () => {
      while (this.back.length > 0) {
        try {
          await this.ep.writable();
        } catch {
          return; // the driver is gone
        }
        while (
          this.back.length > 0 &&
          this.ep.tx.register_pbuf(this.rxBuffer, this.back[0]!, this.back[0]! * PBUF, PBUF)
        ) {
          this.back.shift();
        }
      }
    })();
  }
}
