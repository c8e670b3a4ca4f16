// The UDP benchmark's client on a fishnet machine: bench/dgram-echo-client.ts's
// measurement over lib/lwip's node:dgram-shaped socket (zero-copy receive).
import { open } from '../../lib/lwip/index.ts';
import { defineActor } from '../../runtime/index.ts';
import { dgramEcho, type EchoOptions } from '../dgram-echo-client.ts';

export default defineActor(async (ctx, args: { machine: string }) => {
  const net = await open(ctx, { machine: args.machine, timeoutMs: 5000 });
  ctx.onShutdown(() => net.close());
  return {
    echo: (address: string, port: number, size: number, o: EchoOptions) =>
      dgramEcho(address, port, size, o, () => net.dgram.createSocket({ type: 'udp4', zeroCopy: true })),
    stats: () => net.stats(),
  };
});
