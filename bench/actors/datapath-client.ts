// A client for the datapath benchmark: speaks ether to the driver, counts what it
// receives and hands each pbuf straight back; in echo mode it sends every frame back
// (addresses and ports swapped, so that its transmit filter accepts it).
import { BufferRole, ether } from '../../protocols/generated/ether.ts';
import { netd, PortType } from '../../protocols/generated/netd.ts';
import { setDefaultPollBudget } from '../../runtime/binding/transport-mux.ts';
import { defineActor } from '../../runtime/index.ts';

const PBUF = 2048;
const PBUFS = 2048;
const TX_SLOTS = 512;

export default defineActor(
  async (
    ctx,
    args: { service: string; echo: boolean; progress?: SharedArrayBuffer; poll?: number; port?: number },
  ) => {
    if (args.poll !== undefined) setDefaultPollBudget(args.poll);
    // Frames received, shared with the generator so that it can keep a window in flight.
    const progress = args.progress ? new Int32Array(args.progress) : undefined;
    const e = await ctx.connect(ether, args.service, { transport: 'shm' });
    const rxMem = new SharedArrayBuffer(PBUF * PBUFS);
    const txMem = new SharedArrayBuffer(PBUF * TX_SLOTS);
    const rx = new Uint8Array(rxMem);
    const tx = new Uint8Array(txMem);
    const { buffer_id: rxId } = await e.rpc.register_buffer(rxMem, BufferRole.BUFFER_RX);
    const { buffer_id: txId } = await e.rpc.register_buffer(txMem, BufferRole.BUFFER_TX);
    let frames = 0;
    let bytes = 0;
    let echoed = 0;
    let echoDropped = 0;
    const freeTx: number[] = [];
    for (let i = TX_SLOTS - 1; i >= 0; i--) freeTx.push(i);
    const back: number[] = [];

    const give = (pbuf: number) => {
      if (back.length > 0 || !e.tx.register_pbuf(rxId, pbuf, pbuf * PBUF, PBUF)) {
        back.push(pbuf);
        if (back.length === 1) void refill();
      }
    };
    const refill = async () => {
      while (back.length > 0) {
        await e.writable();
        while (back.length > 0 && e.tx.register_pbuf(rxId, back[0]!, back[0]! * PBUF, PBUF)) back.shift();
      }
    };

    e.rx.packet_received = (pbuf, offset, _len, n) => {
      frames++;
      if (progress) Atomics.add(progress, 0, 1);
      bytes += n;
      if (args.echo) {
        const slot = freeTx.pop();
        if (slot === undefined) echoDropped++;
        else {
          const at = slot * PBUF;
          for (let i = 0; i < n; i++) tx[at + i] = rx[offset + i]!;
          // Swap MACs (0/6), IPs (26/30), ports (34/36).
          for (let i = 0; i < 6; i++) {
            const t = tx[at + i]!;
            tx[at + i] = tx[at + 6 + i]!;
            tx[at + 6 + i] = t;
          }
          for (let i = 0; i < 4; i++) {
            const t = tx[at + 26 + i]!;
            tx[at + 26 + i] = tx[at + 30 + i]!;
            tx[at + 30 + i] = t;
          }
          for (let i = 0; i < 2; i++) {
            const t = tx[at + 34 + i]!;
            tx[at + 34 + i] = tx[at + 36 + i]!;
            tx[at + 36 + i] = t;
          }
          if (e.tx.transmit_packet(txId, slot, at, n, 1)) echoed++;
          else {
            freeTx.push(slot);
            echoDropped++;
          }
        }
      }
      give(pbuf);
    };
    e.rx.tx_done = (pbuf) => {
      freeTx.push(pbuf);
    };
    for (let i = 0; i < PBUFS; i++) give(i);
    e.flush();
    if (args.port !== undefined) {
      // The machine runs netd: ask it for the port, as an application does.
      const machine = args.service.slice(0, args.service.lastIndexOf('/'));
      const n = await ctx.connect(netd, `${machine}/netd`, { timeoutMs: 10_000 });
      await n.rpc.bind_port(PortType.PORT_UDP, args.port, rxId, txId);
    }
    return {
      ids: () => ({ rx: rxId, tx: txId }),
      counts: () => ({ frames, bytes, echoed, echoDropped }),
      reset: () => {
        frames = 0;
        bytes = 0;
        echoed = 0;
        echoDropped = 0;
      },
    };
  },
);
