// The attacker's own hands on the driver: `ether` spoken directly, no stack in the
// way. It registers an RX buffer (ARP replication must land somewhere) and a TX
// buffer of 2 KiB slots, and sends whatever bytes it is given - or transmit_packet
// messages with whatever arguments it likes - and waits for the driver's verdicts.
import { BufferRole, type EtherClient, ether } from '../../../protocols/generated/ether.ts';
import type { ActorContext } from '../../../runtime/index.ts';

export const SLOT = 2048;
const SLOTS = 256;
const RX_PBUFS = 16;

/** One transmit_packet message: buffer, pbuf id, offset, length, pbufs in the frame. */
export type TxMessage = readonly [buffer: number, pbuf: number, offset: number, len: number, nr: number];

export class RawLink {
  /** tx_done codes by pbuf id, until collected. */
  private readonly done = new Map<number, number>();
  private waiter: (() => void) | undefined;
  private nextPbuf = 1;
  received = 0;

  private constructor(
    readonly ep: EtherClient,
    readonly rxId: number,
    readonly txId: number,
    readonly txMem: SharedArrayBuffer,
  ) {
    ep.rx.tx_done = (pbuf, err) => {
      this.done.set(pbuf, err);
      this.waiter?.();
    };
    ep.rx.packet_received = (pbuf, offset) => {
      this.received++;
      ep.tx.register_pbuf(rxId, pbuf, offset, SLOT);
    };
    ep.rx.pbuf_refused = () => {};
  }

  static async open(ctx: ActorContext, machine: string): Promise<RawLink> {
    const ep = await ctx.connect(ether, `${machine}/ether`, { transport: 'shm' });
    const rxMem = new SharedArrayBuffer(SLOT * RX_PBUFS);
    const txMem = new SharedArrayBuffer(SLOT * SLOTS);
    const { buffer_id: rx } = await ep.rpc.register_buffer(rxMem, BufferRole.BUFFER_RX);
    const { buffer_id: tx } = await ep.rpc.register_buffer(txMem, BufferRole.BUFFER_TX);
    const link = new RawLink(ep, rx, tx, txMem);
    for (let i = 0; i < RX_PBUFS; i++) ep.tx.register_pbuf(rx, 100_000 + i, i * SLOT, SLOT);
    ep.flush();
    return link;
  }

  get txBytes(): Uint8Array {
    return new Uint8Array(this.txMem);
  }

  /** A fresh pbuf id (never reused, so verdicts cannot be confused). */
  pbuf(): number {
    return this.nextPbuf++;
  }

  /** Send one frame from slot `slot`; resolves with its tx_done code. */
  async send(frame: Uint8Array, slot = 0): Promise<number> {
    this.txBytes.set(frame, slot * SLOT);
    const [code] = await this.raw([[this.txId, this.pbuf(), slot * SLOT, frame.length, 1]]);
    return code!;
  }

  /** Post these messages (waiting for ring space, as the ring demands), then collect every verdict. */
  async raw(list: readonly TxMessage[], timeoutMs = 5000): Promise<number[]> {
    for (const m of list) await this.post(m);
    this.ep.flush();
    return this.collect(
      list.map((m) => m[1]),
      timeoutMs,
    );
  }

  /** One message onto the ring; false means the ring stayed full (back-pressure held). */
  async post([b, p, o, l, n]: TxMessage): Promise<void> {
    while (!this.ep.tx.transmit_packet(b, p, o, l, n)) await this.ep.writable();
  }

  /** The verdicts for these pbufs, -1 for any not given within the time. */
  async collect(pbufs: readonly number[], timeoutMs = 5000): Promise<number[]> {
    const end = Date.now() + timeoutMs;
    while (pbufs.some((p) => !this.done.has(p)) && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.waiter = undefined;
    return pbufs.map((p) => {
      const c = this.done.get(p) ?? -1;
      this.done.delete(p);
      return c;
    });
  }

  static readonly slots = SLOTS;
}
