// A client for the netd benchmark: it has its buffers with the driver and asks netd
// for ports, timing each request from inside its own thread.
import { BufferRole, ether } from '../../protocols/generated/ether.ts';
import { netd, PortType } from '../../protocols/generated/netd.ts';
import { defineActor } from '../../runtime/index.ts';

export default defineActor(async (ctx, args: { machine: string }) => {
  const e = await ctx.connect(ether, `${args.machine}/ether`, { transport: 'shm' });
  const { buffer_id: rx } = await e.rpc.register_buffer(new SharedArrayBuffer(1 << 16), BufferRole.BUFFER_RX);
  const { buffer_id: tx } = await e.rpc.register_buffer(new SharedArrayBuffer(1 << 16), BufferRole.BUFFER_TX);
  const n = await ctx.connect(netd, `${args.machine}/netd`);
  const open: number[] = [];
  return {
    /** get_port then close_port, `count` times in turn: microseconds of each get_port and close_port. */
    bindLatency: async (count: number) => {
      const bind: number[] = [];
      const close: number[] = [];
      for (let i = 0; i < count; i++) {
        const t0 = performance.now();
        const { port } = await n.rpc.get_port(PortType.PORT_UDP, rx, tx);
        const t1 = performance.now();
        await n.rpc.close_port(PortType.PORT_UDP, port);
        bind.push((t1 - t0) * 1000);
        close.push((performance.now() - t1) * 1000);
      }
      return { bind, close };
    },
    /** Open `count` ports, `inFlight` requests at a time: ms in all. */
    openMany: async (count: number, inFlight = 32) => {
      const t0 = performance.now();
      let next = 0;
      const worker = async () => {
        while (next < count) {
          next++;
          open.push((await n.rpc.get_port(PortType.PORT_UDP, rx, tx)).port);
        }
      };
      await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
      return performance.now() - t0;
    },
    openCount: () => open.length,
  };
});
